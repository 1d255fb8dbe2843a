"""LSP base-protocol framing: a byte stream into JSON messages, back in step after any bad input.

A message is a header block (``Name: value`` lines, then an empty line) and a
body of exactly Content-Length bytes. What a client may get wrong, and what
happens then:

- Header lines may end in ``\\r\\n`` (the spec) or a bare ``\\n`` (accepted: a
  JSON body never holds a raw line break inside a string, so a bare-LF header
  cannot be confused with body text, and being lenient costs nothing). Names
  are case-insensitive; other headers (Content-Type) are ignored; a repeated
  Content-Length must repeat the same value.
- Anything else is dropped with one warning, and reading starts again at the
  next ``Content-Length:``: garbage, a header without a length or with a length
  over ``MAX_BODY``, a body that is not JSON, a body without a header.
  ``Content-Length:`` only ever starts a line: found further into a header
  line, it is the next message's header with bytes glued to its front.
- A length that overshoots (a truncated body, then the next message) would
  make the reader wait for bytes that never come while the client waits for
  an answer. But a well-formed header block can never occur inside a JSON
  body (it needs raw line breaks), so one seen there proves the body broken:
  reading resumes at that header at once, without waiting for the rest.

JSON escapes can spell lone surrogates (``"\\ud800"``), which no UTF-8 consumer
takes: the tokenizer raised TypeError on every completion in a document holding
one. Each becomes U+FFFD, one UTF-16 unit like the original, so positions hold.

Each byte is scanned a bounded number of times: a body is checked for headers
once as it arrives (a ``memchr`` for a raw line break, the only costly search
when there is one), then decoded once.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import msgspec

log = logging.getLogger(__name__)

MAX_HEADER = 64 * 1024  # a header block longer than this is not LSP
MAX_BODY = 256 * 1024 * 1024  # a 10 MB file opened is ~11 MB of JSON; more is a broken length
# Where a header block may start when reading is out of step: its Content-Length line.
LENGTH_START = re.compile(rb"content-length[ \t]{0,8}:", re.IGNORECASE)
# The end of the bytes seen may hold the first part of such a start.
PARTIAL_START = re.compile(rb"c(o(n(t(e(n(t(-(l(e(n(g(t(h[ \t]{0,8})?)?)?)?)?)?)?)?)?)?)?)?)?", re.IGNORECASE)
LENGTH_LINE_MAX = 64  # bytes in a Content-Length line, line end included
# Greedy, with no two parts that can match the same byte: linear even on hostile lines.
HEADER_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]{0,8}:([^\r\n]*)\r?\n")
LINE_END = re.compile(rb"\r?\n")
DIGITS = re.compile(rb"[0-9]{1,12}")
ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # pairs too: they decode to one character
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_DECODE = msgspec.json.Decoder().decode


def without_lone_surrogates(message: Any) -> Any:
    """``message`` with every lone surrogate in its strings (and keys) replaced by U+FFFD, in place."""
    if isinstance(message, str):
        return LONE_SURROGATE.sub("\ufffd", message)
    stack = [message]  # not recursive: JSON nests deeper than Python's call stack
    while stack:
        node = stack.pop()
        items = list(enumerate(node)) if isinstance(node, list) else list(node.items())
        for key, item in items:
            if isinstance(item, str):
                item = LONE_SURROGATE.sub("\ufffd", item)
            elif isinstance(item, list | dict):
                stack.append(item)
            if isinstance(key, str) and LONE_SURROGATE.search(key):
                del node[key]
                key = LONE_SURROGATE.sub("\ufffd", key)
            node[key] = item
    return message


class _Need:
    """More bytes are needed to judge the header block."""


NEED = _Need()


def parse_header(buffer: bytearray, at: int) -> tuple[int, int] | _Need | str:
    """The header block at ``at``: (content length, body start), NEED, or why it is not one."""
    pos, length = at, None
    while True:
        line_end = buffer.find(b"\n", pos, pos + MAX_HEADER)
        if line_end < 0:
            return NEED if len(buffer) - at <= MAX_HEADER else "a header block too long"
        if pos - at > MAX_HEADER:
            return "a header block too long"
        if (blank := LINE_END.match(buffer, pos, line_end + 1)) is not None:
            if length is None:
                return "a header without Content-Length"
            return length, blank.end()
        line = HEADER_LINE.match(buffer, pos, line_end + 1)
        if line is None:
            return "a malformed header line"
        if LENGTH_START.search(buffer, pos + 1, line_end) is not None:
            # Bytes glued to the front of the next message's header: resume at its Content-Length.
            return "a header line with a Content-Length inside"
        name, value = line.group(1).lower(), line.group(2).strip()
        if name == b"content-length":
            if DIGITS.fullmatch(value) is None or line.end() - pos > LENGTH_LINE_MAX:
                return "a Content-Length that is not a number"
            if length is not None and int(value) != length:
                return "two different Content-Length values"
            length = int(value)
            if length > MAX_BODY:
                return f"a Content-Length over {MAX_BODY} bytes"
        pos = line.end()


def decode_body(buffer: bytearray, start: int, end: int) -> Any:
    """The JSON of ``buffer[start:end]``: msgspec, the quick one, for every message. What it
    refuses and the json module takes (escaped lone surrogates, which become U+FFFD; NaN) goes
    to the json module; a body neither takes raises ValueError (or RecursionError) as before."""
    body = memoryview(buffer)[start:end]
    try:
        return _DECODE(body)
    except msgspec.DecodeError:
        pass
    finally:
        body.release()  # a view left open would keep the buffer from growing
    message = json.loads(buffer[start:end])
    if ESCAPED_SURROGATE.search(buffer, start, end):
        message = without_lone_surrogates(message)
    return message


class MessageReader:
    """Feed bytes as they arrive; get back each whole message, decoded, in order."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # no header block starts in the pending body before this offset

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        messages: list[Any] = []
        while (found := self._next()) is not None:
            messages.append(found[0])
        return messages

    def _next(self) -> tuple[Any] | None:
        """The next message as a 1-tuple (a message may be JSON null), or None until more bytes come."""
        buffer = self._buffer
        while True:
            skip = 0
            while skip < len(buffer) and buffer[skip] in b"\r\n":  # blank lines between messages: harmless
                skip += 1
            if skip:
                self._consume(skip)
            if not buffer:
                return None
            header = parse_header(buffer, 0)
            if isinstance(header, _Need):
                return None  # garbage without a line end waits too: the next header's line ends judge it
            if isinstance(header, str):
                self._drop_to_next_header(header)
                continue
            length, start = header
            if len(buffer) < start + length:
                inside = self._header_inside(max(start, self._scanned))
                if inside is None:
                    return None  # the body is still arriving
                self._drop(inside, "a body cut short by the next header")
                continue
            try:
                message = decode_body(buffer, start, start + length)
            except (ValueError, RecursionError) as err:
                # The length may be wrong, and the next message begin inside these bytes.
                self._drop_to_next_header(f"a body that is not JSON ({type(err).__name__})")
                continue
            self._consume(start + length)
            return (message,)

    def _header_inside(self, start: int) -> int | None:
        """Where a well-formed header block starts in the pending body from ``start``, if anywhere."""
        buffer = self._buffer
        if buffer.find(b"\n", start) < 0:  # every header block has line ends; compact JSON has none
            self._scanned = max(start, len(buffer) - LENGTH_LINE_MAX)
            return None
        pos = start
        while (match := LENGTH_START.search(buffer, pos)) is not None:
            header = parse_header(buffer, match.start())
            if isinstance(header, _Need):
                self._scanned = match.start()
                return None
            if not isinstance(header, str):
                return match.start()
            pos = match.start() + 1
        self._scanned = max(pos, len(buffer) - LENGTH_LINE_MAX)
        return None

    def _drop_to_next_header(self, reason: str) -> None:
        """Drop up to the next possible header start after offset 0."""
        buffer = self._buffer
        match = LENGTH_START.search(buffer, 1)
        if match is not None:
            self._drop(match.start(), reason)
            return
        keep = next(
            (
                k
                for k in range(min(LENGTH_LINE_MAX, len(buffer) - 1), 0, -1)
                if PARTIAL_START.fullmatch(buffer, len(buffer) - k)
            ),
            0,
        )
        self._drop(len(buffer) - keep, reason)

    def _drop(self, count: int, reason: str) -> None:
        log.warning("dropped %d bytes of input: %s", count, reason)
        self._consume(count)

    def _consume(self, count: int) -> None:
        del self._buffer[:count]
        self._scanned = 0
