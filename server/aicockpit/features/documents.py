"""textDocument/didOpen, didChange, didClose: keep the document store in sync (incremental)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec
from lsprotocol import types

from aicockpit.context.documents import TextChange, UnknownDocument
from aicockpit.context.positions import Position
from aicockpit.features.params import (
    ContentChange,
    DidChangeParams,
    DidCloseParams,
    DidOpenParams,
    DocumentArg,
    PositionArg,
)

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

DID_FOCUS = "aicockpit/didFocus"


class FocusParams(msgspec.Struct, rename="camel"):
    """``{textDocument: {uri}, position}``: sent by the editor integrations when a document is shown
    or the cursor moves (a notification: no answer)."""

    text_document: DocumentArg
    position: PositionArg


def to_change(change: ContentChange) -> TextChange:
    range_ = change.range
    if range_ is None:
        return TextChange(change.text)
    return TextChange(
        change.text,
        Position(range_.start.line, range_.start.character),
        Position(range_.end.line, range_.end.character),
    )


def setup(server: AicockpitServer, app: App) -> None:
    @server.typed_feature(types.TEXT_DOCUMENT_DID_OPEN, DidOpenParams)
    def did_open(params: DidOpenParams) -> None:
        doc = params.text_document
        app.documents.open(doc.uri, doc.language_id, doc.version, doc.text)
        app.prewarmer.opened(doc.uri)

    @server.typed_feature(types.TEXT_DOCUMENT_DID_CHANGE, DidChangeParams)
    def did_change(params: DidChangeParams) -> None:
        try:
            app.documents.change(
                params.text_document.uri,
                params.text_document.version,
                [to_change(c) for c in params.content_changes],
            )
        except UnknownDocument:
            log.warning("didChange for a document that is not open: %s", params.text_document.uri)
            return
        app.scheduler.note_change(params.text_document.uri)

    @server.typed_feature(DID_FOCUS, FocusParams)
    def did_focus(focus: FocusParams) -> None:
        """The editor shows this document with the cursor here: the next completion is warmed."""
        if focus.text_document.uri in app.documents:
            app.prewarmer.cursor_seen(
                focus.text_document.uri, Position(focus.position.line, focus.position.character)
            )

    @server.typed_feature(types.TEXT_DOCUMENT_DID_CLOSE, DidCloseParams)
    def did_close(params: DidCloseParams) -> None:
        app.documents.close(params.text_document.uri)
        app.scheduler.forget(params.text_document.uri)
