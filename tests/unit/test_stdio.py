"""The event-loop stdin reader: messages as bytes arrive, and the end of input (framing: test_framing.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time

from aicockpit.stdio import MessagePipe, ProtocolWriter, is_pipe


class FakeProtocol:
    """The protocol as MessagePipe uses it: receive each decoded message."""

    def __init__(self) -> None:
        self.handled: list[dict] = []
        self.read_at: list[float] = []

    def receive(self, message: dict, read_at: float) -> None:
        if message.get("boom"):
            raise RuntimeError("a server bug")
        self.handled.append(message)
        self.read_at.append(read_at)


def frame(message: dict, extra_header: bytes = b"") -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n%s\r\n" % (len(body), extra_header) + body


async def open_pipe():
    loop = asyncio.get_running_loop()
    protocol, closed = FakeProtocol(), loop.create_future()
    return MessagePipe(protocol.receive, closed), protocol, closed


async def test_messages_split_anywhere_arrive_whole_and_in_order():
    stream = frame({"id": 1, "text": "é🍵"}) + frame({"id": 2}, b"Content-Type: application/json\r\n")
    for cut in range(1, len(stream)):
        pipe, protocol, _ = await open_pipe()
        pipe.data_received(stream[:cut])
        pipe.data_received(stream[cut:])
        assert [m["id"] for m in protocol.handled] == [1, 2]
        assert protocol.handled[0]["text"] == "é🍵"


async def test_messages_carry_when_they_were_read():
    """A keystroke's request is read with its didChange: both arrived at the same moment, and the
    request's debounce counts from there (not from when the didChange was done)."""
    pipe, protocol, _ = await open_pipe()
    before = time.perf_counter()
    pipe.data_received(frame({"id": 1}) + frame({"id": 2}))
    time.sleep(0.002)
    pipe.data_received(frame({"id": 3}))
    first, second, third = protocol.read_at
    assert before <= first == second < third <= time.perf_counter()
    assert third - first >= 0.002


async def test_a_failing_handler_is_logged_and_the_next_message_still_arrives(caplog):
    pipe, protocol, _ = await open_pipe()
    pipe.data_received(frame({"id": 1, "boom": True}) + frame({"id": 2}))
    assert [m["id"] for m in protocol.handled] == [2]
    assert "a server bug" in caplog.text  # with its traceback: a bug, not the client's input


async def test_a_pipe_read_by_the_loop_ends_cleanly_mid_message():
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as stdin:
        assert is_pipe(stdin)
        pipe, protocol, closed = await open_pipe()
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(lambda: pipe, stdin)
        os.write(write_fd, frame({"id": 1}) + b'Content-Length: 9\r\n\r\n{"a"')
        os.close(write_fd)  # the client goes away in the middle of the second body
        await asyncio.wait_for(closed, 5)
        assert [m["id"] for m in protocol.handled] == [1]
        transport.close()


def test_a_regular_file_is_not_a_pipe(tmp_path):
    path = tmp_path / "input"
    path.write_bytes(b"")
    with path.open("rb") as file:
        assert not is_pipe(file)


def test_a_dead_output_stream_ends_the_session_once_and_drops_what_follows():
    """pygls reports a failed write by writing again: seconds of recursive tracebacks."""
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # the client stopped reading
    ended = []
    with os.fdopen(write_fd, "wb", buffering=0) as stdout:
        writer = ProtocolWriter(stdout, lambda: ended.append(True))
        writer.write(b"x" * 10)
        writer.write(b"y")
    assert writer.closed and ended == [True]
