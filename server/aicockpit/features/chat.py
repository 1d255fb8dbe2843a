"""aicockpit/chat and its session requests, @-mention lookup, aicockpit.explain and aicockpit.shellCommand.

Chat replies stream as ``$/progress`` partial results when the request carries a
``partialResultToken``; the final response always holds the full reply.
"""

from __future__ import annotations

import platform
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec
from lsprotocol import types

from aicockpit.chat.service import Selection
from aicockpit.chat.store import UnknownSession
from aicockpit.context.positions import Position
from aicockpit.engine.base import BackendError, EngineUnavailable
from aicockpit.engine.collect import generate_text
from aicockpit.features.edit import failed, where
from aicockpit.features.params import LspInt, RangeArg, decode, decode_args
from aicockpit.features.progress import WorkDone
from aicockpit.generation import Priority
from aicockpit.prompt.chat import shell_messages, split_command
from aicockpit.prompt.requests import chat_request

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

T = TypeVar("T")

CHAT = "aicockpit/chat"
SESSIONS = "aicockpit/chat/sessions"
HISTORY = "aicockpit/chat/history"
RENAME = "aicockpit/chat/rename"
FORK = "aicockpit/chat/fork"
DELETE = "aicockpit/chat/delete"
MENTIONS = "aicockpit/mentions"
SHELL = "aicockpit.shellCommand"
EXPLAIN = "aicockpit.explain"
SHOW_MESSAGE_CHARS = 2000


class ChatArgs(msgspec.Struct, rename="camel"):
    message: str
    session: str | None = None
    uri: str | None = None
    selection: RangeArg | None = None
    partial_result_token: int | str | None = None
    work_done_token: int | str | None = None


class SessionArgs(msgspec.Struct):
    session: str
    title: str = ""
    index: LspInt = 0


class MentionArgs(msgspec.Struct):
    query: str = ""
    limit: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 20


class ShellArgs(msgspec.Struct):
    description: str


class ExplainArgs(msgspec.Struct):
    uri: str
    first: LspInt
    last: LspInt


def setup(server: AicockpitServer, app: App) -> None:
    async def guarded(coroutine: Awaitable[T]) -> T:
        try:
            return await coroutine
        except EngineUnavailable as err:
            raise failed(f"the model is not ready: {err}") from None
        except BackendError as err:
            raise failed(f"the model backend failed: {err}") from None
        except UnknownSession as err:
            raise failed(str(err.args[0])) from None
        except IndexError as err:
            raise failed(str(err)) from None

    @server.feature(CHAT)
    async def chat(params: Any) -> dict[str, Any]:
        args = decode(params, ChatArgs)
        selection = None
        if args.uri and args.selection:
            start, end = args.selection.start, args.selection.end
            selection = Selection(
                args.uri, Position(start.line, start.character), Position(end.line, end.character)
            )
        on_delta: Callable[[str], None] | None = None
        if args.partial_result_token is not None:
            token = args.partial_result_token

            def send_delta(text: str) -> None:
                server.protocol.notify(
                    types.PROGRESS, types.ProgressParams(token=token, value={"delta": text})
                )

            on_delta = send_delta

        async with WorkDone(server, "aicockpit: answering", token=args.work_done_token):
            reply = await guarded(app.chat.send(args.message, args.session, selection, on_delta))
        return reply.as_dict()

    @server.feature(SESSIONS)
    async def sessions(params: Any = None) -> dict[str, Any]:
        return {"sessions": await app.chat_store().sessions()}

    @server.feature(HISTORY)
    async def history(params: Any) -> dict[str, Any]:
        args = decode(params, SessionArgs)
        return await guarded(_history(args.session))

    async def _history(session: str) -> dict[str, Any]:
        return {"messages": [m.as_dict() for m in await app.chat_store().history(session)]}

    @server.feature(RENAME)
    async def rename(params: Any) -> dict[str, Any]:
        args = decode(params, SessionArgs)
        await guarded(app.chat_store().rename(args.session, args.title))
        return {"session": args.session, "title": args.title}

    @server.feature(FORK)
    async def fork(params: Any) -> dict[str, Any]:
        args = decode(params, SessionArgs)
        return {"session": await guarded(app.chat_store().fork(args.session, args.index))}

    @server.feature(DELETE)
    async def delete(params: Any) -> dict[str, Any]:
        args = decode(params, SessionArgs)
        await guarded(app.chat_store().delete(args.session))
        return {"deleted": args.session}

    @server.feature(MENTIONS)
    async def mention_candidates(params: Any) -> dict[str, Any]:
        args = decode(params, MentionArgs)
        if app.workspace is None:
            return {"items": []}
        items = [
            {"kind": "file", "label": path, "detail": ""}
            for path in app.workspace.find(args.query, args.limit)
        ]
        if args.query and app.index.folders and app.index.ready:
            for display, definition in app.index.find_definitions(args.query)[: args.limit]:
                detail = f"{definition.kind} in {display}:{definition.start_line + 1}"
                items.append({"kind": "symbol", "label": definition.name, "detail": detail})
        return {"items": items}

    @server.command(SHELL)
    async def shell_command(*args: Any) -> dict[str, str]:
        parsed = decode_args(args, ShellArgs)

        async def suggest() -> dict[str, str]:
            engine = app.router.for_role("chat")
            request = chat_request(
                engine,
                shell_messages(parsed.description, platform.system()),
                request_id=f"shell-{uuid.uuid4().hex[:12]}",
                max_tokens=min(app.config.chat.max_tokens, 160),
                temperature=0.0,
                priority=Priority.CHAT,
            )
            command, explanation = split_command((await generate_text(engine, request)).text)
            # Only a suggestion for the client to show: the server never runs commands.
            return {"command": command, "explanation": explanation}

        return await guarded(suggest())

    @server.command(EXPLAIN)
    async def explain(*args: Any) -> dict[str, Any]:
        parsed = decode_args(args, ExplainArgs)
        doc_start = Position(parsed.first, 0)
        doc_end = Position(parsed.last + 1, 0)
        selection = Selection(parsed.uri, doc_start, doc_end)
        lines = where(parsed.uri, parsed.first, parsed.last)
        async with WorkDone(server, "aicockpit: explaining", message=lines):
            reply = await guarded(app.chat.send("Explain this code.", None, selection))
        text = reply.reply.strip() or "(no answer)"
        if len(text) > SHOW_MESSAGE_CHARS:
            text = text[:SHOW_MESSAGE_CHARS] + f"… (full answer in chat session {reply.session})"
        server.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=text))
        return reply.as_dict()
