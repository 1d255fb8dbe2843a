"""textDocument/didOpen, didChange, didClose: keep the document store in sync (incremental)."""

from __future__ import annotations

import logging

from lsprotocol import types

from aicockpit.context.documents import TextChange, UnknownDocument
from aicockpit.context.positions import Position

log = logging.getLogger(__name__)


def to_change(change: types.TextDocumentContentChangeEvent) -> TextChange:
    range_ = getattr(change, "range", None)
    if range_ is None:
        return TextChange(change.text)
    return TextChange(
        change.text,
        Position(range_.start.line, range_.start.character),
        Position(range_.end.line, range_.end.character),
    )


def setup(server, app) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        app.documents.open(doc.uri, doc.language_id, doc.version, doc.text)

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

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        app.documents.close(params.text_document.uri)
        app.scheduler.forget(params.text_document.uri)
