"""The remote backend's HTTP/1.1 client: framing, keep-alive, warm connections, closing early."""

from __future__ import annotations

import asyncio

import pytest

from aicockpit.engine.http_stream import ConnectError, HttpStreamClient, ReadTimeout, RemoteProtocolError


class ScriptedServer:
    """Answers each request on a connection with the next scripted reply (bytes, written in pieces)."""

    def __init__(self, replies: list[list[bytes]], hold: float = 0.0, keep: bool = True) -> None:
        self.replies = replies
        self.hold = hold  # pause between the pieces of one reply
        self.keep = keep  # False: close the connection once the replies are out
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed_by_client = 0
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")).split(
                        b":"
                    )[1]
                )
                self.requests.append(head + await reader.readexactly(length))
                for piece in self.replies.pop(0):
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(self.hold)
            if self.keep:
                await reader.read()  # until the client closes
                self.closed_by_client += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed_by_client += 1
        except asyncio.CancelledError:
            pass  # the test is over
        finally:
            writer.close()


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def read_all(client: HttpStreamClient, body: bytes = b"{}") -> tuple[int, bytes, bool]:
    async with client.stream("POST", "completions", {"Content-Type": "application/json"}, body) as response:
        data = b"".join([piece async for piece in response.chunks()])
        return response.status, data, response.complete


async def test_chunked_answers_split_anywhere_are_decoded_and_the_connection_is_kept():
    whole = CHUNKED_HEAD + chunk(b"data: one\n\n") + chunk(b"data: two\n\n") + b"0\r\n\r\n"
    pieces = [whole[i : i + 7] for i in range(0, len(whole), 7)]  # torn mid-header and mid-chunk
    async with ScriptedServer([pieces, [whole]], hold=0.001) as server:
        client = HttpStreamClient(server.url, 2, 5)
        assert await read_all(client, b'{"n": 1}') == (200, b"data: one\n\ndata: two\n\n", True)
        assert await read_all(client) == (200, b"data: one\n\ndata: two\n\n", True)
        await client.aclose()
    assert server.connections == 1  # keep-alive: both requests on one connection
    assert server.requests[0].startswith(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:")
    assert server.requests[0].endswith(b'\r\nContent-Length: 8\r\n\r\n{"n": 1}')


async def test_credentials_in_the_url_go_as_basic_authentication():
    async with ScriptedServer([[CHUNKED_HEAD + b"0\r\n\r\n"]]) as server:
        client = HttpStreamClient(f"http://me:s%40cret@127.0.0.1:{server.port}/v1", 2, 5)
        await read_all(client)
        await client.aclose()
    assert b"\r\nAuthorization: Basic bWU6c0BjcmV0\r\n" in server.requests[0]  # me:s@cret
    assert b"\r\nHost: 127.0.0.1:" in server.requests[0] and b"cret@" not in server.requests[0]


async def test_content_length_and_close_delimited_bodies():
    sized = b"HTTP/1.1 500 X\r\ncontent-type: application/json\r\ncontent-length: 4\r\n\r\nboom"
    until_close = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: x\n\n"
    async with ScriptedServer([[sized], [until_close]]) as server:
        client = HttpStreamClient(server.url, 2, 5)
        assert await read_all(client) == (500, b"boom", True)
        async with client.stream("POST", "completions", {}, b"") as response:
            first = await anext(response.chunks())
        assert first == b"data: x\n\n"  # no framing: the connection cannot be reused
        await client.aclose()
    assert server.connections == 1


async def test_leaving_a_stream_early_closes_its_connection_and_warms_a_new_one():
    endless = [CHUNKED_HEAD] + [chunk(b"data: x\n\n")] * 50
    async with ScriptedServer([endless, [CHUNKED_HEAD + b"0\r\n\r\n"]], hold=0.01) as server:
        client = HttpStreamClient(server.url, 2, 5)
        async with client.stream("POST", "completions", {}, b"") as response:
            async for _ in response.chunks():
                break
        for _ in range(100):  # the server sees the disconnect; a replacement is opened at once
            if server.closed_by_client and server.connections == 2:
                break
            await asyncio.sleep(0.01)
        assert server.closed_by_client == 1 and server.connections == 2
        assert await read_all(client) == (200, b"", True)
        await client.aclose()
    assert server.connections == 2  # the warmed connection served the next request


async def test_leaving_a_stream_whose_rest_has_already_arrived_keeps_the_connection():
    whole = CHUNKED_HEAD + chunk(b"data: one\n\n") + chunk(b"data: two\n\n") + b"0\r\n\r\n"
    async with ScriptedServer([[whole], [whole]]) as server:
        client = HttpStreamClient(server.url, 2, 5)
        async with client.stream("POST", "completions", {}, b"") as response:
            await asyncio.sleep(0.05)  # all of it is here
            async for _ in response.chunks():
                break  # the reader had what it needed at the first event
        assert await read_all(client) == (200, b"data: one\n\ndata: two\n\n", True)
        await client.aclose()
    assert server.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_not_used():
    done = CHUNKED_HEAD + b"0\r\n\r\n"
    async with ScriptedServer([[done]], keep=False) as server:
        client = HttpStreamClient(server.url, 2, 5)
        await read_all(client)
        await asyncio.sleep(0.05)  # the server closes it after its one reply
        server.replies.append([done])
        assert await read_all(client) == (200, b"", True)
        await client.aclose()
    assert server.connections == 2


async def test_warm_opens_one_connection_ahead_and_the_request_uses_it():
    async with ScriptedServer([[CHUNKED_HEAD + b"0\r\n\r\n"]]) as server:
        client = HttpStreamClient(server.url, 2, 5)
        client.warm()
        client.warm()  # already warming: no second connection
        assert await read_all(client) == (200, b"", True)
        await client.aclose()
    assert server.connections == 1


async def test_errors_name_what_went_wrong():
    async with ScriptedServer([[b"HTTP/1.1 200 OK\r\n"]]) as server:  # headers never end
        client = HttpStreamClient(server.url, 2, 0.2)
        with pytest.raises(ReadTimeout):
            await read_all(client)
        await client.aclose()
    async with ScriptedServer([[b"SSH-2.0-OpenSSH\r\n\r\n"]]) as server:
        client = HttpStreamClient(server.url, 2, 5)
        with pytest.raises(RemoteProtocolError, match="not an HTTP/1.1 answer"):
            await read_all(client)
        await client.aclose()
    port = server.port  # nobody listens there any more
    with pytest.raises(ConnectError):
        await read_all(HttpStreamClient(f"http://127.0.0.1:{port}/v1", 2, 5))


def sse(*events: str) -> bytes:
    return b"".join(chunk(f"data: {event}\n\n".encode()) for event in events)


ANSWER = (
    '{"choices": [{"index": 0, "text": "x = 1", "finish_reason": "stop"}]}',
    '{"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}',
    "[DONE]",
)


async def test_the_engine_keeps_its_connection_between_streams_and_a_missing_end_fails_nobody():
    from contextlib import aclosing

    from aicockpit.config import ProfileConfig
    from aicockpit.engine.openai_remote import OpenAIRemoteEngine
    from aicockpit.generation import GenerationRequest

    whole = CHUNKED_HEAD + sse(*ANSWER) + b"0\r\n\r\n"
    cut = CHUNKED_HEAD + sse(*ANSWER)  # no last chunk: the server goes away after [DONE]
    async with ScriptedServer([[whole], [whole], [cut]], keep=False) as server:
        engine = OpenAIRemoteEngine(ProfileConfig(backend="openai", url=server.url, model="m"))
        for number in range(3):
            async with aclosing(engine.generate(GenerationRequest(f"r{number}", "x", 4))) as stream:
                deltas = [delta async for delta in stream]
            assert "".join(d.text for d in deltas) == "x = 1" and deltas[-1].prompt_tokens == 5
            assert deltas[0].sent_at is not None and deltas[-1].received_at >= deltas[0].sent_at
        await engine.aclose()
    assert server.connections == 1  # three answers, one connection
