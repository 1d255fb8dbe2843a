"""Reads the client's messages from stdin on the event loop itself, and serves until the session ends.

pygls reads stdin in a worker thread: three thread hand-offs per message
(header, blank line, body), each a queue put, a thread wake-up and a self-pipe
write back to the loop. With a keystroke bringing a didChange, a cancel and a
request, that is most of the server's own latency on a loaded 2-core machine.
When stdin is a pipe (as editors launch language servers), the loop watches it
and splits messages as the bytes arrive (framing.py), handing each to the
protocol in the same callback. Anything else (a file, a terminal) is read by a
thread that hands the bytes to the same splitter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import stat
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from aicockpit.framing import MessageReader
from aicockpit.protocol import RobustProtocol

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
END_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def is_pipe(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


class ProtocolWriter:
    """Writes the server's messages to stdout; once the stream is gone, drops them quietly.

    pygls reports a failed write by sending an error message to the client, over
    the same dead stream: each failure reports itself again, seconds of recursion
    with a traceback each time (after ``exit`` closed stdout, a single log line
    set it off).
    """

    def __init__(self, stdout: BinaryIO, on_broken: Callable[[], None]) -> None:
        self._stdout = stdout
        self._on_broken = on_broken
        self.closed = False
        try:  # a non-blocking pipe would make an unbuffered write return None: lost bytes
            os.set_blocking(stdout.fileno(), True)
        except (OSError, ValueError, AttributeError):
            pass

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            view = memoryview(data)
            while view:  # an unbuffered write may be cut short by a signal
                view = view[self._stdout.write(view) :]
        except (OSError, ValueError) as err:
            self.closed = True
            log.warning("the client stopped reading (%s): ending the session", err)
            self._on_broken()

    def close(self) -> None:
        self.closed = True
        try:
            self._stdout.close()
        except OSError:
            pass


class MessagePipe(asyncio.Protocol):
    """Splits the byte stream into LSP messages and hands each to ``receive`` at once."""

    def __init__(self, receive: Callable[[Any, float], None], closed: asyncio.Future[None]) -> None:
        self._receive = receive
        self._closed = closed
        self._reader = MessageReader()

    def data_received(self, data: bytes) -> None:
        read_at = time.perf_counter()  # when these messages arrived: the handlers' clocks start here
        for message in self._reader.feed(data):
            try:
                self._receive(message, read_at)
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


def serve_stdio(protocol: RobustProtocol, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve until ``exit``, the end of input or output, or SIGTERM/SIGINT/SIGHUP; return the exit code.

    The loop is left as it is, with its tasks and worker threads still running:
    the caller ends the process at once (ending.py). ``asyncio.run`` would cancel
    every task and then wait for every worker thread, and an engine that is
    loading holds one for ~20 s.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    closed: asyncio.Future[None] = loop.create_future()

    def end(*_: Any) -> None:
        if not closed.done():
            closed.set_result(None)

    protocol.set_writer(ProtocolWriter(stdout, end))

    for number in END_SIGNALS:  # editors stop a server that lingers with SIGTERM
        loop.add_signal_handler(number, end)

    async def main() -> None:
        pipe = MessagePipe(protocol.receive, closed)
        if is_pipe(stdin):
            await loop.connect_read_pipe(lambda: pipe, stdin)
        else:
            read_in_thread(stdin, loop, pipe)
        await closed

    try:
        loop.run_until_complete(main())
    except SystemExit as exit_:  # pygls raises it for the exit notification: 0 after shutdown, else 1
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0 if protocol.shut_down else 1
