"""aicockpit/nextEdit: the edit the user will likely make next, a few lines from the cursor.

- ``aicockpit/nextEdit`` ``{textDocument: {uri}, position}`` answers ``{id, version, edits:
  [{range, newText}], source, label}`` (no edits: nothing to suggest; source: rename,
  repeat or model). Editors ask after an edit settles; a newer request of the same
  document answers the older one empty.
- ``aicockpit/nextEdit/feedback`` ``{id, accepted}`` (notification): the user took or
  dismissed it (counted in ``aicockpit/stats``).
- Other features read ``app.next_edits.current(uri)``: inline completion shows an edit on
  the cursor's line as an ordinary item; code actions offer "Apply suggested edit" (through
  ``available``, a structural edit nobody asked for yet: Helix has one too; with
  ``next_edit.in_code_actions``, the model is asked first: Helix cannot send aicockpit/nextEdit).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
from lsprotocol import types

from aicockpit.context.positions import Position
from aicockpit.engine.base import BackendError, EngineUnavailable
from aicockpit.features.params import DocumentArg, PositionArg, decode, decode_args, decode_notification
from aicockpit.next_edit.service import NextEditSuggestion

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

NEXT_EDIT = "aicockpit/nextEdit"
FEEDBACK = "aicockpit/nextEdit/feedback"
ACCEPTED = "aicockpit.nextEditAccepted"  # run by the editor when an item or action carrying it is taken
APPLY_TITLE = "Apply suggested edit"


class NextEditArgs(msgspec.Struct, rename="camel"):
    text_document: DocumentArg
    position: PositionArg


class FeedbackArgs(msgspec.Struct):
    id: str
    accepted: bool


def lsp_edits(app: App, suggestion: NextEditSuggestion) -> list[types.TextEdit]:
    """The suggestion's edits in LSP positions (UTF-16) of the text they were computed on."""
    lines = app.documents.get(suggestion.uri).lines
    out = []
    for edit in suggestion.edits:
        start, end = lines.position(edit.start), lines.position(edit.end)
        out.append(
            types.TextEdit(
                range=types.Range(
                    start=types.Position(line=start.line, character=start.character),
                    end=types.Position(line=end.line, character=end.character),
                ),
                new_text=edit.text,
            )
        )
    return out


def accepted_command(suggestion: NextEditSuggestion) -> types.Command:
    return types.Command(title="aicockpit: next edit accepted", command=ACCEPTED, arguments=[suggestion.id])


def inline_item(app: App, uri: str, position: Position) -> types.InlineCompletionItem | None:
    """The current suggestion as an inline completion, when it edits the cursor's line at or after it.

    Inline completions replace a range that starts at the cursor: the text between the
    cursor and the edit is part of the item, so any inline-completion client shows it.
    """
    suggestion = app.next_edits.current(uri)
    if suggestion is None:
        return None
    doc = app.documents.get(uri)
    lines = doc.lines
    cursor = lines.offset(lines.clamp(position))
    line_end = doc.text.find("\n", cursor)
    line_end = len(doc.text) if line_end < 0 else line_end
    edit = next((e for e in suggestion.edits if cursor <= e.start and e.end <= line_end), None)
    if edit is None:
        return None
    end = lines.position(edit.end)
    at = types.Position(line=position.line, character=position.character)
    return types.InlineCompletionItem(
        insert_text=doc.text[cursor : edit.start] + edit.text,
        range=types.Range(start=at, end=types.Position(line=end.line, character=end.character)),
        command=accepted_command(suggestion),
    )


def code_action(app: App, uri: str, position: Position) -> types.CodeAction | None:
    """ "Apply suggested edit", for editors with standard LSP only (Helix): a versioned edit."""
    suggestion = app.next_edits.available(uri, position)
    if suggestion is None:
        return None
    change = types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=suggestion.version),
        edits=lsp_edits(app, suggestion),
    )
    return types.CodeAction(
        title=f"{APPLY_TITLE}: {suggestion.label}" if suggestion.label else APPLY_TITLE,
        kind=types.CodeActionKind.QuickFix,
        edit=types.WorkspaceEdit(document_changes=[change]),
        command=accepted_command(suggestion),
    )


async def code_action_now(app: App, uri: str, position: Position) -> types.CodeAction | None:
    """ "Apply suggested edit": the one held, or a structural one at ``position``, else (with
    next_edit.in_code_actions) the model's, computed now."""
    action = code_action(app, uri, position)
    if action is not None or not app.config.next_edit.in_code_actions:
        return action
    try:
        await app.next_edits.suggest(uri, position)
    except (EngineUnavailable, BackendError) as err:
        log.info("no next edit for the code actions: %s", err)
        return None
    return code_action(app, uri, position)


def setup(server: AicockpitServer, app: App) -> None:
    @server.command(ACCEPTED)
    def next_edit_accepted(*args: Any) -> dict[str, bool]:
        suggestion_id = decode_args(args, str)
        return {"counted": bool(app.next_edits.feedback(suggestion_id, True))}

    @server.feature(NEXT_EDIT)
    async def next_edit(params: Any = None) -> dict[str, Any]:
        args = decode(params, NextEditArgs)
        position = Position(args.position.line, args.position.character)
        try:
            suggestion = await app.next_edits.suggest(args.text_document.uri, position)
        except (EngineUnavailable, BackendError) as err:
            log.info("no next edit: %s", err)
            suggestion = None
        if suggestion is None:
            return {"id": None, "version": None, "edits": [], "source": None, "label": None}
        edits = lsp_edits(app, suggestion)
        return {
            "id": suggestion.id,
            "version": suggestion.version,
            "edits": [server.protocol.to_json(e) for e in edits],
            "source": suggestion.source,
            "label": suggestion.label,
        }

    @server.feature(FEEDBACK)
    def feedback(params: Any = None) -> None:
        if (args := decode_notification(params, FeedbackArgs, FEEDBACK)) is None:
            return
        app.next_edits.feedback(args.id, args.accepted)
