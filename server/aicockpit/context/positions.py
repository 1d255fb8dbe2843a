"""LSP positions (line, UTF-16 code unit) to string offsets and back.

Every conversion between the editor's UTF-16 columns and Python string indices
lives here. Positions past the end of a line or of the document are clamped: a
client that is one keystroke ahead must not crash anything.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import repeat
from operator import add

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 code units each


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    return len(text) if text.isascii() else len(text) + len(_ASTRAL.findall(text))


def utf16_to_index(line: str, character: int) -> int:
    """String index in ``line`` of a UTF-16 column, clamped to the line.

    A column that falls inside a surrogate pair rounds up past that character.
    Cost is bounded by the column, not the line length, and the scan runs in the
    regex engine: a column on a 10 MB minified line costs milliseconds, not seconds.
    """
    if character <= 0:
        return 0
    extra = 0  # astral characters before the scan point: each adds one code unit
    for match in _ASTRAL.finditer(line, 0, min(character, len(line))):
        at = match.start()
        if at + extra >= character:
            break
        if at + extra + 1 == character:
            return at + 1  # the column splits this surrogate pair: round up past it
        extra += 1
    return min(character - extra, len(line))


def index_to_utf16(line: str, index: int) -> int:
    return utf16_len(line[:index])


@dataclass(frozen=True)
class Position:
    line: int
    character: int


def _line_starts(text: str, base: int) -> list[int]:
    """``base`` followed by ``base`` + the offset after each newline of ``text``."""
    starts = [base]
    find = text.find
    at = find("\n")
    while at != -1:
        starts.append(base + at + 1)
        at = find("\n", at + 1)
    return starts


class LineIndex:
    """Line starts of one text, for offset <-> position conversions."""

    def __init__(self, text: str, starts: list[int] | None = None) -> None:
        self.text = text
        self.starts = _line_starts(text, 0) if starts is None else starts

    def edited(self, text: str, start: int, end: int, inserted: str) -> LineIndex:
        """The index of ``text``: this one's text with offsets ``start:end`` replaced by ``inserted``.

        Only the edited lines are scanned; the line starts after the edit are
        shifted. A keystroke in a long file costs microseconds instead of a
        rescan of the whole text (which ran twice per keystroke: after the
        change, and again for the completion request).
        """
        starts = self.starts
        keep = bisect_right(starts, start)  # these starts precede the edit
        after = bisect_right(starts, end)  # these follow it (their newline is past ``end``)
        shift = len(inserted) - (end - start)
        tail = starts[after:]
        if shift:
            tail = list(map(add, tail, repeat(shift)))
        return LineIndex(text, starts[:keep] + _line_starts(inserted, start)[1:] + tail)

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line(self, number: int) -> str:
        start = self.starts[number]
        end = self.starts[number + 1] - 1 if number + 1 < len(self.starts) else len(self.text)
        return self.text[start:end]

    def clamp(self, position: Position) -> Position:
        """The nearest position that exists in the text (UTF-16 columns)."""
        line = min(max(position.line, 0), self.line_count - 1)
        if position.line > line:  # past the last line: the end of the document
            return Position(line, utf16_len(self.line(line)))
        index = utf16_to_index(self.line(line), position.character)
        return Position(line, index_to_utf16(self.line(line), index))

    def offset(self, position: Position) -> int:
        """String offset of a (clamped) position."""
        if position.line >= self.line_count:
            return len(self.text)
        line = max(position.line, 0)
        return self.starts[line] + utf16_to_index(self.line(line), position.character)

    def line_of(self, offset: int) -> int:
        """The line a string offset (within the text) is on."""
        return bisect_right(self.starts, offset) - 1

    def position(self, offset: int) -> Position:
        offset = min(max(offset, 0), len(self.text))
        line = self.line_of(offset)
        return Position(
            line, index_to_utf16(self.text[self.starts[line] : offset], offset - self.starts[line])
        )
