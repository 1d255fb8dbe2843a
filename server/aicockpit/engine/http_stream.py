"""A lean HTTP/1.1 client for the remote backend's streamed answers (engine/openai_remote.py).

Why our own and not a library: ghost text sends one small POST per keystroke and
reads a short event stream back, so the client's own cost is on every keystroke's
path, and the remote path's goal is a server overhead of at most 4 ms p50 and at
most half of tabby-agent's. Measured in one run, interleaved (docs/performance.md,
"The HTTP client: ours, httpx or aiohttp", 2026-12-07): with httpx the server's
overhead p50 was ~1.6 ms higher and its CPU ~1.8 ms a request higher (anyio
checkpoints around each write, h11's state machine, pool locks: ~14 loop turns a
request); with aiohttp ~0.6 ms and ~1.1-1.8 ms higher. Either would spend a
quarter to a half of that 4 ms budget, and turn a third of tabby-agent's overhead
into nearly half of it. So this client stays: the request goes out in one
``transport.write``, and the answer's bytes are decoded in the protocol's
``data_received`` as they arrive. It keeps connections alive between requests, notices at once when
the server closes one (the event loop reports it), and can open one ahead
of need (``warm``) so that no keystroke waits for a TCP or TLS handshake.

A stream left before its end closes its connection (the server sees the
disconnect: vLLM aborts the request); one read to its end goes back to the
pool. Like the httpx client it replaced (which had its own transport, so no
environment proxies), it connects to the profile's URL directly.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import unquote, urlsplit

from aicockpit.background import spawn

MAX_HEAD_BYTES = 64 * 1024
PAUSE_BYTES = 1 << 20  # unread bytes above this pause the socket until the reader catches up
# Servers close idle keep-alive connections (uvicorn, so vllm serve: after 5 s). A
# connection idle longer than this is not trusted with a request: a new one is opened.
KEEPALIVE_S = 4.0
MAX_IDLE = 4


class HttpError(Exception):
    """The request did not get a well-formed answer; the class name says what went wrong."""


class ConnectError(HttpError):
    pass


class ConnectTimeout(HttpError):
    pass


class ReadTimeout(HttpError):
    pass


class RemoteProtocolError(HttpError):
    pass


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; bytes wait in a buffer until the response reads them."""

    def __init__(self) -> None:
        # Set by connection_made, before the connection is handed to anyone.
        self.transport: asyncio.Transport
        self.closed = False
        self.idle_since = time.monotonic()
        self.arrived_at = 0.0  # when the last bytes came
        self.taken_at = 0.0  # when the bytes last handed to the reader came
        self._buffer = bytearray()
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream's: TCP or TLS

    def data_received(self, data: bytes) -> None:
        self.arrived_at = time.perf_counter()
        self._buffer += data
        if len(self._buffer) > PAUSE_BYTES and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def usable(self) -> bool:
        """Open, quiet (no bytes nor EOF from the server while idle) and not idle too long."""
        return (
            not self.closed
            and not self._eof
            and not self._buffer
            and time.monotonic() - self.idle_since < KEEPALIVE_S
        )

    async def receive(self, timeout: float) -> bytes:
        """The bytes that came since the last call (waiting up to ``timeout``); b"" at the end."""
        if not self._buffer and not self._eof:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError:
                raise ReadTimeout("no bytes in time") from None
            finally:
                self._waiter = None
        return self.take_buffered()

    def take_buffered(self) -> bytes:
        """The bytes that have come and not been read, without waiting for more."""
        data = bytes(self._buffer)
        self._buffer.clear()
        self.taken_at = self.arrived_at
        if self._paused:
            self._paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        self.closed = True
        self.transport.abort()  # at once: the server must see the disconnect now


class HttpResponse:
    """The status and headers of an answer, and its body as decoded bytes (``chunks``)."""

    def __init__(
        self, connection: _Connection, status: int, headers: dict[str, str], rest: bytes, timeout: float
    ) -> None:
        self.status = status
        self.timeout = timeout  # the longest wait for the next bytes
        self.headers = headers
        self.sent_at = 0.0  # when the request was written
        self._connection = connection
        self._pending = bytearray(rest)
        self.complete = False  # the whole body was read: the connection may serve another request
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left = None if chunked or length is None else int(length)
        self._chunked = chunked
        self.reusable = headers.get("connection", "").lower() != "close" and (chunked or length is not None)

    @property
    def arrived_at(self) -> float:
        """When the last bytes of this answer read so far came (``time.perf_counter``)."""
        return self._connection.taken_at

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, as it arrives (chunked transfer encoding decoded).

        Each call continues where the last one stopped: a reader may leave one loop
        (at the end of an event stream) and read the rest of the body in another.
        """
        timeout = self.timeout
        if self._chunked:
            async for data in self._dechunk(timeout):
                yield data
            return
        while self._left is None or self._left > 0:
            if not self._pending:
                data = await self._connection.receive(timeout)
                if not data:
                    if self._left is not None:
                        raise RemoteProtocolError("the server closed the connection mid-answer")
                    break  # a body that runs to the connection's end
                self._pending += data
            data = bytes(self._pending if self._left is None else self._pending[: self._left])
            del self._pending[: len(data)]
            if self._left is not None:
                self._left -= len(data)
            yield data
        self.complete = True

    async def _dechunk(self, timeout: float) -> AsyncIterator[bytes]:
        pending = self._pending
        while True:
            while (line_end := pending.find(b"\r\n")) < 0:
                await self._more(timeout)
            try:
                size = int(bytes(pending[:line_end]).split(b";", 1)[0], 16)
            except ValueError:
                raise RemoteProtocolError("malformed chunk size") from None
            if size == 0:  # the last chunk, then trailers (none expected) and a blank line
                while (end := pending.find(b"\r\n\r\n", line_end)) < 0:
                    await self._more(timeout)
                del pending[: end + 4]
                self.complete = True
                return
            start = line_end + 2
            while len(pending) < start + size + 2:
                await self._more(timeout)
            data = bytes(pending[start : start + size])
            del pending[: start + size + 2]
            yield data

    def finish_buffered(self) -> bool:
        """Read the rest of the body from what has already arrived; True when that completes it.

        A reader that stops early (the suggestion is complete) keeps the connection
        when the server had sent everything anyway; when it is still sending, the
        connection must close, which also stops the server's work.
        """
        if self.complete:
            return True
        pending = self._pending
        pending += self._connection.take_buffered()
        if self._chunked:
            while (line_end := pending.find(b"\r\n")) >= 0:
                try:
                    size = int(bytes(pending[:line_end]).split(b";", 1)[0], 16)
                except ValueError:
                    return False
                if size == 0:
                    end = pending.find(b"\r\n\r\n", line_end)
                    if end >= 0:
                        del pending[: end + 4]
                        self.complete = True
                    return self.complete
                if len(pending) < line_end + size + 4:
                    return False
                del pending[: line_end + size + 4]
            return False
        if self._left is None:
            return False  # the body runs to the connection's end
        used = min(self._left, len(pending))
        del pending[:used]
        self._left -= used
        self.complete = self._left == 0
        return self.complete

    async def _more(self, timeout: float) -> None:
        data = await self._connection.receive(timeout)
        if not data:
            raise RemoteProtocolError("the server closed the connection mid-answer")
        self._pending += data


class HttpStreamClient:
    """Requests to one server (``base_url``), over a few kept-alive connections."""

    def __init__(self, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/") + "/"
        self._host_header = parts.netloc.rsplit("@", 1)[-1]
        self._auth = {}  # credentials in the URL: Basic authentication, as httpx sends them
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._auth["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            import httpx  # its context: certifi's trust store, as before

            self._ssl = httpx.create_ssl_context()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: collections.deque[_Connection] = collections.deque()
        self._warming: asyncio.Task[None] | None = None
        self._closed = False

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(_Connection, self.host, self.port, ssl=self._ssl)
        except TimeoutError:
            raise ConnectTimeout(f"no connection to {self.host}:{self.port} in time") from None
        except (OSError, ssl.SSLError) as err:
            raise ConnectError(f"{self.host}:{self.port}: {err.strerror or err}") from None
        return connection

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()  # the most recent: the least likely to be stale
            if connection.usable():
                return connection
            connection.close()
        return None

    def warm(self) -> None:
        """Open a connection ahead of the next request, unless a fresh one is idle (in the background)."""
        if self._closed or (self._warming is not None and not self._warming.done()):
            return
        if any(c.usable() for c in self._idle):
            return
        self._warming = spawn(self._warm(), name=f"warming a connection to {self._host_header}")

    async def _warm(self) -> None:
        try:
            connection = await self._connect()
        except HttpError:
            return  # the request that follows will say what is wrong
        self._release(connection)

    def _release(self, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        if self._closed or len(self._idle) >= MAX_IDLE:
            connection.close()
        else:
            self._idle.append(connection)

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> AsyncIterator[HttpResponse]:
        """Send one request and yield its ``HttpResponse`` once the status and headers are in."""
        head = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self._host_header}"]
        head += [f"{k}: {v}" for k, v in {**self._auth, **headers}.items()]
        head.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        connection = self._take_idle()
        if connection is None and self._warming is not None and not self._warming.done():
            # A connection is being opened ahead of need (the keystroke that led here): use it.
            await asyncio.shield(self._warming)
            connection = self._take_idle()
        response: HttpResponse | None = None
        try:
            if connection is not None:
                try:
                    response = await self._exchange(connection, request)
                except RemoteProtocolError:
                    # The server closed it as we sent (its keep-alive ran out): it never saw
                    # the request. Once more on a new connection.
                    connection.close()
                    connection = None
            if response is None:  # no idle connection, or the server had closed it
                connection = await self._connect()
                response = await self._exchange(connection, request)
            yield response
        finally:
            if connection is not None:
                reusable = response is not None and response.finish_buffered() and response.reusable
                if reusable and not connection.closed:
                    self._release(connection)
                else:
                    connection.close()
                    await asyncio.sleep(0)  # the socket closes in this turn: gone when the stream is
                    self.warm()  # the next request should not wait for a handshake

    async def _exchange(self, connection: _Connection, request: bytes) -> HttpResponse:
        connection.transport.write(request)
        sent_at = time.perf_counter()
        head = bytearray()
        while (end := head.find(b"\r\n\r\n")) < 0:
            data = await connection.receive(self.read_timeout)
            if not data:
                raise RemoteProtocolError("the server closed the connection without answering")
            head += data
            if len(head) > MAX_HEAD_BYTES and head.find(b"\r\n\r\n") < 0:
                raise RemoteProtocolError("the answer's headers are too long")
        lines = bytes(head[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise RemoteProtocolError(f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        response = HttpResponse(connection, int(parts[1]), headers, bytes(head[end + 4 :]), self.read_timeout)
        response.sent_at = sent_at
        if parts[0] == "HTTP/1.0":
            response.reusable = False
        return response

    async def aclose(self) -> None:
        self._closed = True
        if self._warming is not None:
            self._warming.cancel()
        while self._idle:
            self._idle.pop().close()
