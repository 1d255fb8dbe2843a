"""A minimal editor around the test client: it applies workspace edits the way an
editor does (and tells the server with didChange), and records partial results."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from tests.client import SessionClient
from tests.e2e.helpers import utf16


def offset_of(text: str, position: types.Position) -> int:
    lines = text.split("\n")
    line = min(position.line, len(lines) - 1)
    start = sum(len(lines[n]) + 1 for n in range(line))
    column, units = 0, 0
    for column, ch in enumerate(lines[line]):  # noqa: B007
        if units >= position.character:
            break
        units += 2 if ord(ch) > 0xFFFF else 1
    else:
        column = len(lines[line])
    return start + column


class Editor:
    """Attached to its client (the last one made wins): the client hands it the server's
    ``workspace/applyEdit`` requests and partial results (tests/client.py)."""

    def __init__(self, client: SessionClient) -> None:
        self.client = client
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.partials: dict[Any, list[str]] = {}  # deltas by partialResultToken
        self.accept_edits = True
        client.editor = self

    def open(self, uri: str, text: str, language: str = "python") -> None:
        self.texts[uri], self.versions[uri] = text, 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
            )
        )

    def type(self, uri: str, line: int, character: int, text: str) -> None:
        position = types.Position(line=line, character=character)
        self._change(uri, [types.TextEdit(range=types.Range(start=position, end=position), new_text=text)])

    def _change(self, uri: str, edits: list) -> None:
        text = self.texts[uri]
        for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            start, end = offset_of(text, edit.range.start), offset_of(text, edit.range.end)
            text = text[:start] + edit.new_text + text[end:]
        self.texts[uri] = text
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def apply_edit(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.applied.append(params)
        if not self.accept_edits:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="rejected by the test")
        self.apply_workspace_edit(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    def apply_workspace_edit(self, edit: types.WorkspaceEdit) -> None:
        for change in edit.document_changes or []:
            uri = change.text_document.uri
            assert change.text_document.version == self.versions[uri], "edit for another version"
            self._change(uri, list(change.edits))
        for uri, edits in (edit.changes or {}).items():
            self._change(uri, list(edits))


def line_count(text: str) -> int:
    return len(text.split("\n"))


__all__ = ["Editor", "line_count", "utf16"]
