"""textDocument/inlineCompletion: ghost text, through the per-document scheduler.

Each item carries the ``aicockpit.accepted`` command: the editor runs it when
the user accepts the suggestion, and the server prefetches the next one. The
engine is warmed up once it is ready.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
from lsprotocol import types

from aicockpit.background import spawn
from aicockpit.completion.service import Suggestion
from aicockpit.context.positions import Position
from aicockpit.engine.base import EngineState
from aicockpit.features.next_edit import inline_item as next_edit_item
from aicockpit.features.params import InlineCompletionArgs, LspInt, decode_args
from aicockpit.protocol import RECEIVED_AT

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

ACCEPTED = "aicockpit.accepted"


def to_lsp(position: Position) -> types.Position:
    return types.Position(line=position.line, character=position.character)


def accepted_command(uri: str, suggestion: Suggestion) -> types.Command:
    """Tells the server what was inserted where, so it can prefetch what comes next."""
    at = suggestion.position
    return types.Command(
        title="aicockpit: suggestion accepted",
        command=ACCEPTED,
        arguments=[{"uri": uri, "line": at.line, "character": at.character, "text": suggestion.text}],
    )


class AcceptedArgs(msgspec.Struct):
    """What ``accepted_command`` puts in the item (it comes back from the client: checked)."""

    uri: str
    line: LspInt
    character: LspInt
    text: str


def setup(server: AicockpitServer, app: App) -> None:
    def on_state(state: EngineState, message: str) -> None:
        if state is not EngineState.READY:
            return
        if not app.config.completion.warmup:
            app.scheduler.warmup = "off"
            return
        spawn(app.scheduler.warm_up(), name="engine warm-up")

    app.host.on_state(on_state)

    @server.typed_feature(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, InlineCompletionArgs, types.InlineCompletionOptions()
    )
    async def inline_completion(params: InlineCompletionArgs) -> types.InlineCompletionList:
        uri = params.text_document.uri
        tag = params.work_done_token if isinstance(params.work_done_token, str) else None
        position = Position(params.position.line, params.position.character)
        app.prewarmer.served(uri, position)
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        suggestion = await app.scheduler.complete(
            uri, position, tag=tag, invoked=invoked, received_at=RECEIVED_AT.get()
        )
        items = []
        if suggestion is not None:
            at = to_lsp(suggestion.position)
            items.append(
                types.InlineCompletionItem(
                    insert_text=suggestion.text,
                    range=types.Range(start=at, end=at),
                    command=accepted_command(uri, suggestion),
                )
            )
        if uri in app.documents:  # a next-edit suggestion on this line shows like ghost text
            edit = next_edit_item(app, uri, position)
            if edit is not None:
                items.append(edit)
        return types.InlineCompletionList(items=items)

    @server.command(ACCEPTED)
    async def accepted(*args: Any) -> dict[str, bool]:
        parsed = decode_args(args, AcceptedArgs)
        position = Position(parsed.line, parsed.character)
        return {"prefetching": app.scheduler.accepted(parsed.uri, position, parsed.text)}
