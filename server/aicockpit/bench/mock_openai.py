"""A mock OpenAI-compatible (and Tabby-compatible) completion server with a fixed latency.

For ``aicockpit bench --remote-mock MS`` and scripts/bench_peer.py.

It answers ``POST /v1/completions`` and ``/v1/chat/completions`` the way ``vllm
serve`` does on the wire: HTTP/1.1 with keep-alive, the response head at once,
then server-sent events in chunked transfer encoding, one event per chunk,
``finish_reason`` on the last text chunk, a usage chunk (with cached tokens)
and ``data: [DONE]``. The first token comes ``delay_ms`` after the request was
read, the next ones ``token_ms`` apart; stop strings end the answer as in vLLM
(the stop string itself is not sent). A client that closes its connection
mid-stream stops the answer (counted as an abort).

It also answers Tabby's API, so that tabby-agent can be measured against the
same backend (scripts/bench_peer.py): ``GET /v1/health``, ``GET
/v1beta/server_setting``, ``POST /v1/events``, and a ``POST /v1/completions``
whose body has ``segments`` (OpenAI's has ``prompt``), answered the way a Tabby
server does: one JSON object, not streamed, written when its last token would
be ready (same delay, same text: one line when text follows the cursor, else
cut at Tabby's stop words and 64 tokens).

The bench runs it as its own process (``python -m aicockpit.bench.mock_openai``),
so that neither the bench's client nor the server under test shares its CPU
time with it more than a real backend would. It prints ``port N`` once it
listens; ``GET /stats`` returns its counters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from aicockpit.bench.stub_engine import BlockPrefixCache, StubTokenizer

MAX_BODY = 16 << 20
# What the "model" writes: a first line, then lines of a block, then code that leaves it.
MOCK_TOKENS = (
    "result",
    " =",
    " compute",
    "(value",
    ")\n",
    "    ",
    "return",
    " result",
    "\n\n",
    "\n",
    "def",
    " other",
    "():\n",
)
# What a Tabby server stops at (crates/tabby-common/src/languages.rs): a blank line in any
# language, and a new top-level statement or comment in the languages it knows (Python here,
# the only one the benches type); it writes at most 64 tokens (max_decoding_tokens' default).
TABBY_STOPS = ("\n\n",)
TABBY_LANGUAGE_STOPS = {"python": ("\n#", "\ndef", "\nfrom", "\nclass", "\nimport")}
TABBY_MAX_TOKENS = 64
# What tabby-agent checks in /v1/health: ``model`` and ``device`` mark a Tabby server, and a
# version of 0.9 or later makes it fetch /v1beta/server_setting.
TABBY_HEALTH = {
    "model": "mock",
    "device": "cpu",
    "arch": "x86_64",
    "cpu_info": "mock",
    "cpu_count": 1,
    "cuda_devices": [],
    "version": {"build_date": "2024-01-01", "git_describe": "v0.11.0", "git_sha": "mock"},
}


class MockOpenAI:
    def __init__(self, delay_ms: float, token_ms: float = 0.0) -> None:
        self.delay_s = delay_ms / 1000
        self.token_s = token_ms / 1000
        self.tokenizer = StubTokenizer()
        self.cache = BlockPrefixCache()
        self.counters = {"connections": 0, "requests": 0, "aborted": 0, "tokens_sent": 0, "events": 0}
        self.service_ms: list[float] = []  # request read -> last byte written, per finished answer
        # (request read, last text token written) of each completion, on perf_counter's clock: a
        # system-wide monotonic one, so the bench can set them against its own requests' times.
        self.answers: list[tuple[float, float]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters["connections"] += 1
        try:
            while True:  # keep-alive: requests one after the other on this connection
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
                }
                length = min(int(headers.get("content-length") or 0), MAX_BODY)
                body = await reader.readexactly(length) if length else b""
                received = time.perf_counter()
                if method == "GET":
                    await self._json(writer, self._get(path))
                elif path.rstrip("/").endswith("/events"):  # Tabby's usage events: taken, not counted
                    self.counters["events"] += 1
                    await self._json(writer, None, b"")
                else:
                    self.counters["requests"] += 1
                    request = json.loads(body)
                    if "segments" in request:  # Tabby's /v1/completions (OpenAI's has a prompt)
                        answered = await self._tabby(writer, request, received)
                    else:
                        answered = await self._stream(
                            writer, request, received, path.endswith("chat/completions")
                        )
                    if not answered:
                        self.counters["aborted"] += 1
                        return
                    self.service_ms.append((time.perf_counter() - received) * 1000)
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            self.counters["aborted"] += 1
        finally:
            writer.close()

    def _get(self, path: str) -> Any:
        path = path.rstrip("/")
        if path.endswith("/stats"):
            return {**self.counters, "service_ms": self.service_ms, "answers": self.answers}
        if path.endswith("/v1/health"):
            return TABBY_HEALTH
        if path.endswith("/server_setting"):  # tabby-agent sends no usage data of its own then
            return {"disable_client_side_telemetry": True}
        return {"object": "list", "data": [{"id": "mock", "object": "model"}]}

    async def _json(self, writer: asyncio.StreamWriter, payload: Any, body: bytes | None = None) -> None:
        body = json.dumps(payload).encode() if body is None else body
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
            + body
        )
        await writer.drain()

    async def _stream(
        self, writer: asyncio.StreamWriter, request: dict[str, Any], received: float, chat: bool
    ) -> bool:
        """One streamed answer; False when the client went away before its end."""
        if chat:
            prompt = "".join(str(m.get("content", "")) for m in request.get("messages") or ())
        else:
            prompt = str(request.get("prompt", ""))
        prompt_tokens = self.tokenizer.count(prompt)
        cached = self.cache.cached_tokens(prompt)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n"
        )
        started = time.perf_counter()
        pieces, finish = _answer(int(request.get("max_tokens") or 16), tuple(request.get("stop") or ()))
        model = str(request.get("model", "mock"))
        try:
            await writer.drain()
            for number, piece in enumerate(pieces):
                # Each token at its time from the start (sleeps round up; delays do not add up).
                due = started + self.delay_s + number * self.token_s
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                last = number == len(pieces) - 1
                choice: dict[str, Any] = {"index": 0, "finish_reason": finish if last else None}
                choice.update({"delta": {"content": piece}} if chat else {"text": piece})
                self._event(writer, {"id": "cmpl-mock", "object": "text_completion", "model": model,
                                     "choices": [choice]})  # fmt: skip
                self.counters["tokens_sent"] += 1
                await writer.drain()
            if not chat:
                self.answers.append((received, time.perf_counter()))
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(pieces),
                "total_tokens": prompt_tokens + len(pieces),
                "prompt_tokens_details": {"cached_tokens": cached},
            }
            self._event(writer, {"id": "cmpl-mock", "model": model, "choices": [], "usage": usage})
            self._event(writer, "[DONE]")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            return False
        return not writer.is_closing()

    async def _tabby(self, writer: asyncio.StreamWriter, request: dict[str, Any], received: float) -> bool:
        """Tabby's answer: the whole text in one JSON body, once its last token would be ready."""
        stops = TABBY_STOPS + TABBY_LANGUAGE_STOPS.get(str(request.get("language")), ())
        suffix = str((request.get("segments") or {}).get("suffix") or "")
        if suffix.split("\n", 1)[0].strip():
            # Text right of the cursor: one line, as aicockpit asks with a "\n" stop there. A Tabby
            # server leaves this to its model (tabby-agent drops a multi-line answer then); the mock
            # stands for a model that ends the line, so both servers get the same text.
            stops += ("\n",)
        pieces, _ = _answer(TABBY_MAX_TOKENS, stops)
        due = received + self.delay_s + (len(pieces) - 1) * self.token_s
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        answer = {"id": "cmpl-mock", "choices": [{"index": 0, "text": "".join(pieces)}]}
        try:
            await self._json(writer, answer)
        except ConnectionError:
            return False
        if writer.is_closing():
            return False
        self.counters["tokens_sent"] += len(pieces)
        self.answers.append((received, time.perf_counter()))
        return True

    @staticmethod
    def _event(writer: asyncio.StreamWriter, data: Any) -> None:
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        event = f"data: {text}\n\n".encode()
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))


def _answer(max_tokens: int, stops: tuple[str, ...]) -> tuple[list[str], str]:
    """The tokens to send, cut before the first stop string (not sent) or at ``max_tokens``."""
    pieces: list[str] = []
    text = ""
    for number in range(max_tokens):
        joined = text + MOCK_TOKENS[number % len(MOCK_TOKENS)]
        cut = min((i for stop in stops if stop and (i := joined.find(stop)) >= 0), default=-1)
        if cut >= 0:
            if cut > len(text):
                pieces.append(joined[len(text) : cut])
            return pieces or [""], "stop"
        pieces.append(joined[len(text) :])
        text = joined
    return pieces, "length"


async def serve(delay_ms: float, token_ms: float, port: int) -> None:
    mock = MockOpenAI(delay_ms, token_ms)
    server = await asyncio.start_server(mock.handle, "127.0.0.1", port)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=50.0, help="time to the first token")
    parser.add_argument("--token-ms", type=float, default=0.0, help="time between tokens after the first")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.delay_ms, args.token_ms, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
