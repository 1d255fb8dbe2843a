"""LSP framing: whatever comes first, the next well-formed message is read, whole and in order."""

from __future__ import annotations

import json
import random

import pytest

from aicockpit.framing import MAX_BODY, MAX_HEADER, MessageReader


def frame(message: dict, header: bytes = b"Content-Length: %d\r\n\r\n") -> bytes:
    body = json.dumps(message).encode()
    return (header % len(body) if b"%d" in header else header) + body


def read(stream: bytes, chunk: int | None = None) -> list:
    reader = MessageReader()
    if chunk is None:
        return reader.feed(stream)
    return [m for at in range(0, len(stream), chunk) for m in reader.feed(stream[at : at + chunk])]


REQUEST = {"jsonrpc": "2.0", "id": 1, "method": "shutdown", "params": None}
BODY = json.dumps(REQUEST).encode()
NEXT = [{"jsonrpc": "2.0", "id": "next", "method": "aicockpit/stats"}, {"jsonrpc": "2.0", "id": "last"}]

# Input a client may get wrong, and whether the message itself is still read.
HOSTILE = {
    "bare LF header (accepted)": (b"Content-Length: %d\n\n" % len(BODY) + BODY, True),
    "mixed line ends (accepted)": (b"Content-Length: %d\n\r\n" % len(BODY) + BODY, True),
    "lowercase name (accepted)": (b"content-length:%d\r\n\r\n" % len(BODY) + BODY, True),
    "extra headers (accepted)": (
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nX-Trace: 1\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY,
        True,
    ),
    "same length twice (accepted)": (b"Content-Length: %d\r\n" % len(BODY) * 2 + b"\r\n" + BODY, True),
    "blank lines between messages (accepted)": (b"\r\n\n" + frame(REQUEST) + b"\r\n", True),
    # Reading starts again at the second length: it frames the body when it is the right one.
    "two lengths, the second right": (
        b"Content-Length: 3\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY,
        True,
    ),
    "two lengths, the second wrong": (
        b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % len(BODY) + BODY,
        False,
    ),
    "garbage bytes": (bytes(range(256)) * 3, False),
    "garbage then a message": (b"\x00\xffjunk" + frame(REQUEST), True),
    "body without a header": (BODY, False),
    "header without Content-Length": (b"Content-Type: text/plain\r\n\r\n" + BODY, False),
    "truncated body": (b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY[:-9], False),
    "length too short": (b"Content-Length: 10\r\n\r\n" + BODY, False),
    "huge length": (b"Content-Length: 99999999999\r\n\r\n" + BODY, False),
    "large length under the limit": (b"Content-Length: %d\r\n\r\n" % (MAX_BODY - 1) + BODY, False),
    "length not a number": (b"Content-Length: -5\r\n\r\n" + BODY, False),
    "zero length": (b"Content-Length: 0\r\n\r\n" + BODY, False),
    "malformed header line": (b"Content-Length: %d\r\n{oops}\r\n\r\n" % len(BODY) + BODY, False),
    "not JSON": (b"Content-Length: 5\r\n\r\n{nope", False),
    "deeply nested JSON": (b"Content-Length: 200000\r\n\r\n" + b"[" * 100_000 + b"]" * 100_000, False),
    "a header line that never ends": (b"X-Long: " + b" " * (MAX_HEADER + 10) + b"x", False),
    "a cut header": (b"Content-Le", False),
}


@pytest.mark.parametrize("chunk", [None, 1, 7, 4096])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_after_any_bad_input_the_next_messages_are_read(name, chunk):
    hostile, readable = HOSTILE[name]
    if chunk == 1 and len(hostile) > 20_000:
        chunk = 997  # byte by byte, only where it stays fast
    messages = read(hostile + b"".join(frame(m) for m in NEXT), chunk)
    assert messages[-2:] == NEXT, name
    assert messages[:-2] == ([REQUEST] if readable else []), name


def test_the_bare_lf_message_of_the_report_does_not_wedge_the_reader():
    """Issue 14: ``Content-Length: 195\\n\\n{...}`` left the reader skipping every later header."""
    stream = frame(REQUEST, b"Content-Length: %d\n\n") + b"".join(frame({"id": n}) for n in range(50))
    assert [m.get("id") for m in read(stream)] == [1, *range(50)]


@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_header_text_inside_a_body_is_body_text(chunk):
    fake = "Content-Length: 5\r\n\r\n{}\nContent-Length: 9\n\n"
    compact = {"jsonrpc": "2.0", "method": "m", "params": {"text": fake}}
    pretty = json.dumps({"text": fake, "more": ["content-length: 1", 2]}, indent=2).encode()
    stream = frame(compact) + b"Content-Length: %d\r\n\r\n" % len(pretty) + pretty + frame(NEXT[0])
    assert read(stream, chunk) == [compact, json.loads(pretty), NEXT[0]]


def test_a_pending_body_cut_short_by_a_header_does_not_wait_for_the_rest():
    """The next message is read at once: nothing else may ever come while the client waits."""
    reader = MessageReader()
    assert reader.feed(b"Content-Length: 50000\r\n\r\n" + BODY[:20]) == []
    assert reader.feed(frame(NEXT[0])) == [NEXT[0]]


def test_a_big_body_in_many_chunks_is_read_once_whole():
    text = "x = 1\n" * 500_000
    message = {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"text": text}}
    assert read(frame(message), 65536) == [message]


@pytest.mark.parametrize("seed", range(200))
def test_random_garbage_never_costs_the_next_well_formed_messages(seed):
    rng = random.Random(seed)
    pieces = [
        b"Content-Length: ", b"content-length:", b"%d" % rng.randint(0, 400), b"\r\n", b"\n", b"\r\n\r\n",
        b"{", b"}", b'"', b":", b"Content-Type: x\r\n", b"X: y\n", bytes([rng.randint(0, 255)]),
        frame({"id": "garbage"}), BODY[: rng.randint(0, len(BODY))],
    ]  # fmt: skip
    garbage = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
    stream = garbage + b"".join(frame(m) for m in NEXT)
    for chunk in (None, rng.randint(1, 50)):
        assert read(stream, chunk)[-2:] == NEXT, (garbage, chunk)


def test_lone_surrogates_become_replacement_characters_of_the_same_utf16_length():
    """A JSON escape can spell one; the tokenizer, SQLite and tree-sitter all refuse it."""
    body = json.dumps({"text": "a\ud800b", "pair": "\U0001f375", "\udc00key": ["\udfff"]}).encode()
    (message,) = read(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert message == {"text": "a\ufffdb", "pair": "\U0001f375", "\ufffdkey": ["\ufffd"]}
