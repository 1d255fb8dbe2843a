"""The event-loop stdin reader: framing as pygls reads it, and the end of input."""

from __future__ import annotations

import asyncio
import os

from aicockpit.stdio import PipeReader, is_pipe


async def test_reads_lines_and_bodies_from_a_pipe_and_ends_cleanly_mid_message():
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        assert is_pipe(pipe)
        reader = await PipeReader.open(pipe)
        os.write(write_fd, b'Content-Length: 2\r\n\r\n{}Content-Length: 9\r\n\r\n{"a"')
        os.close(write_fd)  # the client goes away in the middle of the second body
        assert await reader.readline() == b"Content-Length: 2\r\n"
        assert await reader.readline() == b"\r\n"
        assert await reader.readexactly(2) == b"{}"
        await reader.readline()
        await reader.readline()
        assert await asyncio.wait_for(reader.readexactly(9), 5) == b""
        assert await reader.readline() == b""


def test_a_regular_file_is_not_a_pipe(tmp_path):
    path = tmp_path / "input"
    path.write_bytes(b"")
    with path.open("rb") as file:
        assert not is_pipe(file)


async def test_an_oversized_line_is_dropped_and_reading_goes_on(monkeypatch):
    monkeypatch.setattr("aicockpit.stdio.READ_LIMIT", 64)
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        reader = await PipeReader.open(pipe)
        os.write(write_fd, b"x" * 200 + b"\r\nContent-Length: 2\r\n")
        os.close(write_fd)
        assert not (await reader.readline()).startswith(b"Content-Length")
        assert await reader.readline() == b"Content-Length: 2\r\n"
