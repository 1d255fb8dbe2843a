"""A scripted OpenAI-compatible HTTP server on 127.0.0.1, good and bad answers alike.

Speaks just enough HTTP/1.1 (one request per connection, close-delimited
bodies) to test the remote backend against well-formed streams and against
garbage: HTTP 500, non-JSON events, truncated streams, a wrong content type,
endless streams, silence. ``dialect`` answers in the shapes of other servers
(Ollama, llama.cpp, LiteLLM: tests/fake_dialects.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests import fake_dialects

MODES = (
    "ok",  # a normal stream with usage and [DONE]
    "http500",  # an error status with a JSON body
    "http401",  # a client error: not worth retrying
    "non_json",  # events whose data is not JSON
    "truncated",  # two pieces, then the connection closes
    "wrong_type",  # 200 with an HTML page
    "bad_json",  # application/json that is not an answer
    "endless",  # pieces forever, never finishing
    "silent",  # headers never come
    "slow_first",  # headers and the first piece after `delay` seconds
    "no_done",  # finishes with a finish_reason but no [DONE]
    "json_answer",  # a whole non-streamed JSON answer
    "long_line",  # one "line" of megabytes without a newline
    "broken",  # per `dialect`: fails after the first piece, the way that server does
    "rejected",  # per `dialect`: the error status and body that server sends before streaming
)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    mode: str = "ok"
    pieces: tuple[str, ...] = ("hello", " world")
    # Computes the pieces from the request body instead (a scripted model that reads its prompt).
    answer: Callable[[dict[str, Any]], tuple[str, ...]] | None = None
    fail_first: int = 0  # answer this many requests with HTTP 503 before behaving per `mode`
    delay: float = 0.5
    dialect: str = "openai"  # or one of fake_dialects.DIALECTS
    honours_usage: bool = True  # False: ignores stream_options.include_usage, like older servers
    seen: list[Seen] = field(default_factory=list)
    disconnects: int = 0
    port: int = 0
    _server: asyncio.AbstractServer | None = None
    _handlers: set = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> FakeOpenAI:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for task in list(self._handlers):  # silent and endless answers run until told to stop
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {
                k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
            }
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            self.seen.append(Seen(path, headers, json.loads(body) if body else {}))
            if self.fail_first > 0:
                self.fail_first -= 1
                await self._status(writer, 503, "application/json", b'{"error": {"message": "overloaded"}}')
            else:
                await self._answer(writer, path.endswith("chat/completions"), self.seen[-1].body)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.disconnects += 1
        finally:
            writer.close()
            self._handlers.discard(task)

    async def _status(self, writer, status: int, kind: str, body: bytes) -> None:
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    async def _stream_head(self, writer) -> None:
        kind = "text/event-stream; charset=utf-8" if self.dialect == "litellm" else "text/event-stream"
        writer.write(f"HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()

    async def _event(self, writer, data: Any) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        writer.write(f"data: {text}\n\n".encode())
        await writer.drain()

    def _chunk(self, text: str, chat: bool, finish: str | None = None) -> dict:
        choice = {"index": 0, "finish_reason": finish}
        choice.update({"delta": {"content": text}} if chat else {"text": text})
        return {"choices": [choice]}

    async def _answer(self, writer, chat: bool, body: dict) -> None:
        mode = self.mode
        if self.dialect != "openai" and mode in ("ok", "broken"):
            return await self._dialect_answer(writer, chat, body)
        if mode == "rejected":
            status, error = fake_dialects.REJECTIONS[self.dialect]
            return await self._status(writer, status, "application/json", json.dumps(error).encode())
        if mode == "http500":
            return await self._status(writer, 500, "application/json", b'{"error": {"message": "boom"}}')
        if mode == "http401":
            return await self._status(writer, 401, "application/json", b'{"error": {"message": "bad key"}}')
        if mode == "wrong_type":
            return await self._status(writer, 200, "text/html", b"<html>hello</html>")
        if mode == "bad_json":
            return await self._status(writer, 200, "application/json", b'{"choices": "nope"}')
        if mode == "json_answer":
            choice = {"message": {"content": "whole"}} if chat else {"text": "whole"}
            body = {"choices": [{**choice, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3}}
            return await self._status(writer, 200, "application/json", json.dumps(body).encode())
        # The sleeps below are the scenario (a server that is silent, slow, endless), not waits.
        if mode == "silent":
            await asyncio.sleep(3600)
        if mode == "slow_first":
            await asyncio.sleep(self.delay)
        await self._stream_head(writer)
        if mode == "non_json":
            return await self._event(writer, "this is { not json")
        if mode == "long_line":
            writer.write(b"data: " + b"x" * (3 << 20))
            return await writer.drain()
        if mode == "endless":
            while True:
                await self._event(writer, self._chunk("x", chat))
                await asyncio.sleep(0.01)  # the stream's pace
        pieces = self.pieces if self.answer is None else self.answer(body)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1 and mode != "truncated"
            await self._event(writer, self._chunk(piece, chat, "stop" if last else None))
        if mode == "truncated":
            return  # the connection closes before the answer is complete
        usage = {
            "prompt_tokens": 7,
            "completion_tokens": len(pieces),
            "total_tokens": 7 + len(pieces),
        }
        await self._event(
            writer, {"choices": [], "usage": {**usage, "prompt_tokens_details": {"cached_tokens": 4}}}
        )
        if mode != "no_done":
            await self._event(writer, "[DONE]")

    async def _dialect_answer(self, writer, chat: bool, body: dict) -> None:
        asked = bool((body.get("stream_options") or {}).get("include_usage")) and self.honours_usage
        await self._stream_head(writer)
        for event in fake_dialects.stream(self.dialect, self.pieces, chat, asked, self.mode == "broken"):
            await self._event(writer, event)
