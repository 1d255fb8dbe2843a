"""The event-loop stdin reader: messages as bytes arrive, and the end of input (framing: test_framing.py)."""

from __future__ import annotations

import asyncio
import json
import os

from aicockpit.stdio import MessagePipe, is_pipe


class FakeProtocol:
    """pygls's protocol as MessagePipe uses it: structure nested objects, handle whole messages."""

    def __init__(self) -> None:
        self.handled: list[dict] = []

    def structure_message(self, data: dict) -> dict:
        return data

    def handle_message(self, message: dict) -> None:
        if message.get("boom"):
            raise RuntimeError("a server bug")
        self.handled.append(message)


def frame(message: dict, extra_header: bytes = b"") -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n%s\r\n" % (len(body), extra_header) + body


async def open_pipe():
    loop = asyncio.get_running_loop()
    protocol, errors, closed = FakeProtocol(), [], loop.create_future()
    pipe = MessagePipe(protocol, lambda err, kind: errors.append(err), closed)
    return pipe, protocol, errors, closed


async def test_messages_split_anywhere_arrive_whole_and_in_order():
    stream = frame({"id": 1, "text": "é🍵"}) + frame({"id": 2}, b"Content-Type: application/json\r\n")
    for cut in range(1, len(stream)):
        pipe, protocol, errors, _ = await open_pipe()
        pipe.data_received(stream[:cut])
        pipe.data_received(stream[cut:])
        assert [m["id"] for m in protocol.handled] == [1, 2] and not errors
        assert protocol.handled[0]["text"] == "é🍵"


async def test_a_failing_handler_is_reported_and_the_next_message_still_arrives():
    pipe, protocol, errors, _ = await open_pipe()
    pipe.data_received(frame({"id": 1, "boom": True}) + frame({"id": 2}))
    assert [m["id"] for m in protocol.handled] == [2]
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)


async def test_a_pipe_read_by_the_loop_ends_cleanly_mid_message():
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as stdin:
        assert is_pipe(stdin)
        pipe, protocol, _, closed = await open_pipe()
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
