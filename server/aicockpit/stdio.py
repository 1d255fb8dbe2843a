"""Reads the client's messages from stdin on the event loop itself.

pygls reads stdin in a worker thread: three thread hand-offs per message
(header, blank line, body), each a queue put, a thread wake-up and a self-pipe
write back to the loop. With a keystroke bringing a didChange, a cancel and a
request, that is most of the server's own latency on a loaded 2-core machine.
When stdin is a pipe (as editors launch language servers), the loop watches it
and splits messages as the bytes arrive, handing each to pygls's protocol in
the same callback. Anything else (a file, a terminal) keeps pygls's reader.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
import threading
from collections.abc import Callable
from typing import BinaryIO

from pygls.exceptions import JsonRpcException
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async
from pygls.protocol import JsonRPCProtocol
from pygls.server import JsonRPCServer

log = logging.getLogger(__name__)

HEADER_END = b"\r\n\r\n"
MAX_HEADER = 64 * 1024  # bytes without a header end: not LSP, dropped
CONTENT_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def is_pipe(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def take_body(buffer: bytearray) -> bytes | None:
    """The next whole message body in ``buffer`` (removed from it), or None until more bytes come."""
    while True:
        end = buffer.find(HEADER_END)
        if end < 0:
            if len(buffer) > MAX_HEADER:
                log.warning("dropped %d bytes of input that are not an LSP header", len(buffer))
                del buffer[: -len(HEADER_END)]
            return None
        match = CONTENT_LENGTH.search(buffer, 0, end)
        start = end + len(HEADER_END)
        if match is None:  # a header without a length frames nothing: skip it
            log.warning("skipped a message header without Content-Length")
            del buffer[:start]
            continue
        stop = start + int(match.group(1))
        if len(buffer) < stop:
            return None
        body = bytes(buffer[start:stop])
        del buffer[:stop]
        return body


class MessagePipe(asyncio.Protocol):
    """Splits the byte stream into LSP messages and hands each to ``protocol`` at once."""

    def __init__(
        self,
        protocol: JsonRPCProtocol,
        report_error: Callable[[Exception, type], None],
        closed: asyncio.Future,
    ) -> None:
        self._protocol = protocol
        self._report_error = report_error
        self._closed = closed
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (body := take_body(self._buffer)) is not None:
            try:
                # Structured once, at the top: pygls's object_hook runs for every nested object.
                self._protocol.handle_message(self._protocol.structure_message(json.loads(body)))
            except Exception as err:
                log.exception("unable to handle a message")
                self._report_error(err, JsonRpcException)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)


def serve_stdio(server: JsonRPCServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Like ``server.start_io``, with the loop reading stdin when it is a pipe."""
    server._stop_event = stop = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        if not is_pipe(stdin):
            reader = StdinAsyncReader(stdin, server.thread_pool)
            await run_async(stop, reader, server.protocol, log, server.report_server_error)
            return
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        await loop.connect_read_pipe(
            lambda: MessagePipe(server.protocol, server.report_server_error, closed), stdin
        )
        await closed  # the end of input

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the client closed the connection: stopping")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
