"""Reads the client's messages from stdin on the event loop itself.

pygls reads stdin in a worker thread: three thread hand-offs per message
(header, blank line, body), each a queue put, a thread wake-up and a self-pipe
write back to the loop. With a keystroke bringing a didChange, a cancel and a
request, that is most of the server's own latency on a loaded 2-core machine.
When stdin is a pipe (as editors launch language servers), the loop watches it
directly; anything else (a file, a terminal) keeps pygls's reader.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from typing import BinaryIO

from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async
from pygls.server import JsonRPCServer

log = logging.getLogger(__name__)

READ_LIMIT = 64 * 1024 * 1024  # a header line longer than this is not LSP


def is_pipe(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


class PipeReader:
    """The reader pygls's message loop expects, over an asyncio stream."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    @classmethod
    async def open(cls, pipe: BinaryIO) -> PipeReader:
        stream = asyncio.StreamReader(limit=READ_LIMIT)
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), pipe)
        return cls(stream)

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except ValueError:  # a "line" past the limit: dropped, and the loop reads on
            log.warning("dropped an input line longer than %d bytes", READ_LIMIT)
            return b"X-Dropped: oversized\r\n"  # not a header pygls knows, so it is skipped

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""  # the client went away mid-message: the loop ends as at end of input


def serve_stdio(server: JsonRPCServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Like ``server.start_io``, with the loop reading stdin when it is a pipe."""
    server._stop_event = stop = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        reader = (
            await PipeReader.open(stdin) if is_pipe(stdin) else StdinAsyncReader(stdin, server.thread_pool)
        )
        await run_async(stop, reader, server.protocol, log, server.report_server_error)

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the client closed the connection: stopping")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
