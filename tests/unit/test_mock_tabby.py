"""The bench's mock backend speaks Tabby's API too, so tabby-agent can be measured against it."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from typing import Any

from aicockpit.bench.mock_openai import MockOpenAI

DELAY_MS = 30
TABBY_BODY = {
    "language": "python",
    "segments": {"prefix": "def f(x):\n    ", "suffix": "\n", "filepath": "shop/f.py"},
}


@asynccontextmanager
async def mock_server():
    mock = MockOpenAI(DELAY_MS)
    server = await asyncio.start_server(mock.handle, "127.0.0.1", 0)
    try:
        yield mock, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


class Connection:
    """One kept-alive HTTP/1.1 connection, as node's fetch keeps it (answers with a content-length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def call(self, method: str, path: str, body: Any = None) -> tuple[dict[str, str], bytes]:
        data = b"" if body is None else json.dumps(body).encode()
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\n"
            f"content-length: {len(data)}\r\n\r\n".encode()
            + data
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        assert head[0] == "HTTP/1.1 200 OK"
        headers = {
            k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in head[1:] if ":" in ln)
        }
        if "content-length" not in headers:  # a stream: read what came with its head, then stop
            return headers, b""
        return headers, await self.reader.readexactly(int(headers["content-length"]))

    def close(self) -> None:
        self.writer.close()


async def test_tabby_agent_finds_a_tabby_server_and_its_events_are_taken():
    async with mock_server() as (mock, port):
        connection = await Connection.open(port)
        _, body = await connection.call("GET", "/v1/health")
        health = json.loads(body)
        # tabby-agent fetches the server settings only from a Tabby server (model and device set)
        # of version 0.9 or later.
        version = tuple(int(n) for n in health["version"]["git_describe"].lstrip("v").split("."))
        assert health["model"] and health["device"] and version >= (0, 9)
        _, body = await connection.call("GET", "/v1beta/server_setting")
        assert json.loads(body) == {"disable_client_side_telemetry": True}
        headers, body = await connection.call("POST", "/v1/events", {"type": "view", "completion_id": "x"})
        assert body == b"" and headers["content-length"] == "0"
        connection.close()
        assert mock.counters["events"] == 1 and mock.counters["requests"] == 0


async def test_a_tabby_completion_is_one_json_answer_after_the_delay_and_recorded():
    async with mock_server() as (mock, port):
        connection = await Connection.open(port)
        first = time.perf_counter()
        for _ in range(2):  # one connection kept alive between requests
            started = time.perf_counter()
            headers, body = await connection.call("POST", "/v1/completions", TABBY_BODY)
            took_ms = (time.perf_counter() - started) * 1000
            assert headers["content-type"] == "application/json" and took_ms >= DELAY_MS
            answer = json.loads(body)
            # The mock's text: a first line, then the block's next line, cut at Tabby's blank-line stop.
            assert answer["id"] and answer["choices"] == [
                {"index": 0, "text": "result = compute(value)\n    return result"}
            ]
        connection.close()
        assert mock.counters["requests"] == 2 and mock.counters["connections"] == 1
        # (request read, answer written) on perf_counter's clock, as for the OpenAI path: the
        # bench's outside view pairs them with the client's requests.
        assert len(mock.answers) == 2
        for read, written in mock.answers:
            assert first < read < written < time.perf_counter() and (written - read) * 1000 >= DELAY_MS


async def test_text_right_of_the_cursor_makes_it_one_line():
    body = {**TABBY_BODY, "segments": {"prefix": "x = ", "suffix": " + 1\nprint(x)\n"}}
    async with mock_server() as (_, port):
        connection = await Connection.open(port)
        _, answer = await connection.call("POST", "/v1/completions", body)
        connection.close()
    assert json.loads(answer)["choices"][0]["text"] == "result = compute(value)"


async def test_an_openai_body_on_the_same_path_still_streams():
    async with mock_server() as (mock, port):
        connection = await Connection.open(port)
        headers, _ = await connection.call(
            "POST", "/v1/completions", {"prompt": "def f(x):\n", "max_tokens": 4}
        )
        connection.close()
        assert headers["content-type"].startswith("text/event-stream")
