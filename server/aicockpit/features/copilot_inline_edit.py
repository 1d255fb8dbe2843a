"""GitHub Copilot's next-edit methods, as the Neovim plugins built for them send and read them.

- ``textDocument/copilotInlineEdit`` ``{textDocument: {uri, version}, position, context?}``
  answers ``{edits: [{text, range, textDocument: {uri, version}, command}]}``: the same
  suggestion as ``aicockpit/nextEdit``, as one edit (copilot-lsp shows only the first
  one) covering all of its changes. ``edits`` is empty when there is nothing to suggest or
  when the document is no longer at the version asked about: clients apply an edit only
  to the version it names. ``command`` is ``aicockpit.nextEditAccepted`` with the
  suggestion's id: sidekick.nvim runs it after applying the edit (counted as taken).
- ``textDocument/didShowInlineEdit`` ``{item: {command}}`` (notification): the client
  shows the suggestion (copilot-lsp sends it); counted in ``aicockpit/stats``.
- ``textDocument/didFocus`` ``{textDocument: {uri}}`` (notification): both plugins send it
  when a buffer is entered; nothing to do, but it is a method the server knows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from aicockpit.context.positions import Position
from aicockpit.edit.diff import TextEdit
from aicockpit.engine.base import BackendError, EngineUnavailable
from aicockpit.features.next_edit import ACCEPTED
from aicockpit.features.params import LspInt, PositionArg, decode, decode_notification

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

INLINE_EDIT = "textDocument/copilotInlineEdit"
DID_SHOW = "textDocument/didShowInlineEdit"
DID_FOCUS = "textDocument/didFocus"


class VersionedDocument(msgspec.Struct):
    uri: str
    version: LspInt | None = None


class InlineEditArgs(msgspec.Struct, rename="camel"):
    text_document: VersionedDocument
    position: PositionArg


class ShownCommand(msgspec.Struct):
    command: str = ""
    arguments: list[Any] = msgspec.field(default_factory=list)


class ShownItem(msgspec.Struct):
    command: ShownCommand | None = None


class DidShowArgs(msgspec.Struct):
    item: ShownItem


def one_edit(text: str, edits: Sequence[TextEdit]) -> tuple[int, int, str]:
    """The suggestion's edits (string offsets, in order) as one replacement of the text they span."""
    ordered = sorted(edits, key=lambda e: e.start)
    start, end = ordered[0].start, max(e.end for e in ordered)
    parts, at = [], start
    for edit in ordered:
        parts.append(text[at : edit.start])
        parts.append(edit.text)
        at = edit.end
    parts.append(text[at:end])
    return start, end, "".join(parts)


def setup(server: AicockpitServer, app: App) -> None:
    @server.feature(INLINE_EDIT)
    async def copilot_inline_edit(params: Any = None) -> dict[str, Any]:
        args = decode(params, InlineEditArgs)
        uri, version = args.text_document.uri, args.text_document.version
        if uri not in app.documents or (version is not None and app.documents.get(uri).version != version):
            return {"edits": []}  # the client has moved on from the version it asked about
        position = Position(args.position.line, args.position.character)
        try:
            suggestion = await app.next_edits.suggest(uri, position)
        except (EngineUnavailable, BackendError) as err:
            log.info("no next edit: %s", err)
            suggestion = None
        if suggestion is None or not suggestion.edits or uri not in app.documents:
            return {"edits": []}
        doc = app.documents.get(uri)
        if doc.version != suggestion.version or (version is not None and version != suggestion.version):
            return {"edits": []}
        start, end, text = one_edit(doc.text, suggestion.edits)
        first, last = doc.lines.position(start), doc.lines.position(end)
        return {
            "edits": [
                {
                    "text": text,
                    "range": {
                        "start": {"line": first.line, "character": first.character},
                        "end": {"line": last.line, "character": last.character},
                    },
                    "textDocument": {"uri": uri, "version": suggestion.version},
                    "command": {
                        "title": suggestion.label or "aicockpit: next edit accepted",
                        "command": ACCEPTED,
                        "arguments": [suggestion.id],
                    },
                }
            ]
        }

    @server.feature(DID_SHOW)
    def did_show_inline_edit(params: Any = None) -> None:
        if (args := decode_notification(params, DidShowArgs, DID_SHOW)) is None:
            return
        command = args.item.command
        if command is not None and command.command == ACCEPTED and command.arguments:
            app.next_edits.shown(str(command.arguments[0]))

    @server.feature(DID_FOCUS)
    def did_focus(params: Any = None) -> None:
        """Nothing to do: suggestions follow the documents' changes, not the focus."""
