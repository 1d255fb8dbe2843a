"""Reads the client's messages from stdin on the event loop itself.

pygls reads stdin in a worker thread: three thread hand-offs per message
(header, blank line, body), each a queue put, a thread wake-up and a self-pipe
write back to the loop. With a keystroke bringing a didChange, a cancel and a
request, that is most of the server's own latency on a loaded 2-core machine.
When stdin is a pipe (as editors launch language servers), the loop watches it
and splits messages as the bytes arrive (framing.py), handing each to the
protocol in the same callback. Anything else (a file, a terminal) is read by a
thread that hands the bytes to the same splitter: pygls's own reader took only
``Content-Length: N\r\n`` exactly and had no way back in step after bad input.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter
from pygls.server import JsonRPCServer

from aicockpit.framing import MessageReader

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024


def is_pipe(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


class MessagePipe(asyncio.Protocol):
    """Splits the byte stream into LSP messages and hands each to ``receive`` at once."""

    def __init__(self, receive: Callable[[Any], None], closed: asyncio.Future) -> None:
        self._receive = receive
        self._closed = closed
        self._reader = MessageReader()

    def data_received(self, data: bytes) -> None:
        for message in self._reader.feed(data):
            try:
                self._receive(message)
            except Exception:  # the client's errors are answered inside: this is a server bug
                log.exception("unable to handle a message")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)


def read_in_thread(stdin: BinaryIO, loop: asyncio.AbstractEventLoop, pipe: MessagePipe) -> None:
    """A file or a terminal: blocking reads in a daemon thread, handed to the loop."""

    def run() -> None:
        try:
            while data := os.read(stdin.fileno(), READ_SIZE):
                loop.call_soon_threadsafe(pipe.data_received, data)
        except OSError as err:
            log.warning("reading stdin failed: %s", err)
        finally:
            loop.call_soon_threadsafe(pipe.connection_lost, None)

    threading.Thread(target=run, name="aicockpit-stdin", daemon=True).start()


def serve_stdio(server: JsonRPCServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Like ``server.start_io``, with the loop reading stdin when it is a pipe."""
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        pipe = MessagePipe(server.protocol.receive, closed)
        if is_pipe(stdin):
            await loop.connect_read_pipe(lambda: pipe, stdin)
        else:
            read_in_thread(stdin, loop, pipe)
        await closed  # the end of input

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the client closed the connection: stopping")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
