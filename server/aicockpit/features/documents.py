"""textDocument/didOpen, didChange, didClose: keep the document store in sync (incremental)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
from lsprotocol import types

from aicockpit.context.documents import TextChange, UnknownDocument
from aicockpit.context.positions import Position
from aicockpit.features.params import DocumentArg, PositionArg, decode_notification

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

DID_FOCUS = "aicockpit/didFocus"


class FocusParams(msgspec.Struct):
    """``{textDocument: {uri}, position}``: sent by the editor integrations when a document is shown
    or the cursor moves (a notification: no answer)."""

    textDocument: DocumentArg  # noqa: N815 (the LSP's spelling)
    position: PositionArg


def to_change(change: types.TextDocumentContentChangeEvent) -> TextChange:
    range_ = getattr(change, "range", None)
    if range_ is None:
        return TextChange(change.text)
    return TextChange(
        change.text,
        Position(range_.start.line, range_.start.character),
        Position(range_.end.line, range_.end.character),
    )


def setup(server: AicockpitServer, app: App) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        app.documents.open(doc.uri, doc.language_id, doc.version, doc.text)
        app.prewarmer.opened(doc.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
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

    @server.feature(DID_FOCUS)
    def did_focus(params: Any) -> None:
        """The editor shows this document with the cursor here: the next completion is warmed."""
        focus = decode_notification(params, FocusParams, DID_FOCUS)
        if focus is not None and focus.textDocument.uri in app.documents:
            app.prewarmer.cursor_seen(
                focus.textDocument.uri, Position(focus.position.line, focus.position.character)
            )

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        app.documents.close(params.text_document.uri)
        app.scheduler.forget(params.text_document.uri)
