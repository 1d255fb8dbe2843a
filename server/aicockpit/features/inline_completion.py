"""textDocument/inlineCompletion: ghost text, through the per-document scheduler.

Each item carries the ``aicockpit.accepted`` command: the editor runs it when
the user accepts the suggestion, and the server prefetches the next one. The
engine is warmed up once it is ready.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types

from aicockpit.completion.service import Suggestion
from aicockpit.context.positions import Position
from aicockpit.engine.base import EngineState
from aicockpit.features.next_edit import inline_item as next_edit_item

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


def parse_accepted(args: tuple[Any, ...]) -> tuple[str, Position, str]:
    """The command's one argument, checked (it comes from the client): ValueError when malformed."""
    if len(args) != 1:
        raise ValueError(f"{ACCEPTED} takes one argument, got {len(args)}")
    arg = args[0]
    arg = arg._asdict() if hasattr(arg, "_asdict") else arg
    if not isinstance(arg, dict):
        raise ValueError(f"{ACCEPTED} takes an object")
    uri, line, character, text = (arg.get(k) for k in ("uri", "line", "character", "text"))
    if not (isinstance(uri, str) and isinstance(text, str)):
        raise ValueError(f"{ACCEPTED}: uri and text must be strings")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in (line, character)):
        raise ValueError(f"{ACCEPTED}: line and character must be non-negative integers")
    return uri, Position(line, character), text


def setup(server, app) -> None:
    warmups: set[asyncio.Task] = set()

    def on_state(state: EngineState, message: str) -> None:
        if state is not EngineState.READY:
            return
        if not app.config.completion.warmup:
            app.scheduler.warmup = "off"
            return
        task = asyncio.ensure_future(app.scheduler.warm_up())
        warmups.add(task)
        task.add_done_callback(warmups.discard)

    app.host.on_state(on_state)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(params: types.InlineCompletionParams) -> types.InlineCompletionList:
        uri = params.text_document.uri
        tag = params.work_done_token if isinstance(params.work_done_token, str) else None
        position = Position(params.position.line, params.position.character)
        suggestion = await app.scheduler.complete(uri, position, tag=tag)
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
        try:
            uri, position, text = parse_accepted(args)
        except ValueError as err:
            from pygls.exceptions import JsonRpcInvalidParams

            raise JsonRpcInvalidParams(str(err)) from None
        return {"prefetching": app.scheduler.accepted(uri, position, text)}
