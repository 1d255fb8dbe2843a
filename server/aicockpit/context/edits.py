"""The user's recent edits, as compact diffs: what next-edit suggestions learn the user's intent from.

Keystrokes are coalesced into edits: a document's changes belong to one edit
while they keep coming (no pause longer than ``SETTLE_S``) and stay near each
other (within ``NEAR_LINES``). When an edit ends, the text before it and after
it are diffed once into hunks (only the lines that differ, with a line of
context); the edit still being typed is diffed when a prompt asks for it.
Bounded in count; the prompt layer bounds them in tokens.
"""

from __future__ import annotations

import difflib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SETTLE_S = 2.0  # a pause this long ends an edit
NEAR_LINES = 6  # a change further from the edit's last change starts a new edit
MAX_HUNKS = 24
CONTEXT_LINES = 1
MAX_HUNK_LINES = 40  # a huge change (a paste, a reformat) is kept in part


@dataclass(frozen=True)
class EditHunk:
    """One changed region: ``old`` lines at ``old_start`` became ``new`` lines at ``new_start`` (0-based)."""

    uri: str
    old_start: int
    old: tuple[str, ...]
    new_start: int
    new: tuple[str, ...]
    context_before: tuple[str, ...] = ()
    context_after: tuple[str, ...] = ()


@dataclass
class _OpenEdit:
    base: str  # the document's text when the edit began
    last_line: int
    last_at: float


class EditHistory:
    """Recent edits of every open document, oldest first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._closed: deque[EditHunk] = deque(maxlen=MAX_HUNKS)
        self._open: dict[str, _OpenEdit] = {}
        self._texts: dict[str, str] = {}  # the latest text of documents with an open edit

    def before_change(self, uri: str, text: str, line: int) -> None:
        """A change at ``line`` is about to be applied to ``text``."""
        now = self._clock()
        current = self._open.get(uri)
        if current is not None:
            if abs(line - current.last_line) > NEAR_LINES or now - current.last_at > SETTLE_S:
                self._close(uri, text)
                current = None
        if current is None:
            current = self._open[uri] = _OpenEdit(text, line, now)
        current.last_line = line
        current.last_at = now

    def after_change(self, uri: str, text: str) -> None:
        if uri in self._open:
            self._texts[uri] = text

    def closed(self, uri: str) -> None:
        """The document closed: its edit in progress becomes history."""
        text = self._texts.get(uri)
        if text is not None:
            self._close(uri, text)

    def hunks(self) -> list[EditHunk]:
        """Every recent edit, oldest first; edits still being typed come last."""
        current = []
        for uri, edit in sorted(self._open.items(), key=lambda item: item[1].last_at):
            current += diff_hunks(uri, edit.base, self._texts.get(uri, edit.base))
        return [*self._closed, *current]

    def _close(self, uri: str, text: str) -> None:
        edit = self._open.pop(uri, None)
        self._texts.pop(uri, None)
        if edit is not None:
            self._closed.extend(diff_hunks(uri, edit.base, text))


def common_ends(a: Sequence[object], b: Sequence[object]) -> tuple[int, int]:
    """How many items ``a`` and ``b`` share at their start, and then at their end."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def diff_hunks(uri: str, old: str, new: str) -> list[EditHunk]:
    """The changed regions between two texts of one document (common ends trimmed first: cheap)."""
    if old == new:
        return []
    a, b = old.split("\n"), new.split("\n")
    head, tail = common_ends(a, b)
    middle_a, middle_b = a[head : len(a) - tail], b[head : len(b) - tail]
    matcher = difflib.SequenceMatcher(a=middle_a, b=middle_b, autojunk=False)
    hunks = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start_a, start_b = head + a0, head + b0
        hunks.append(
            EditHunk(
                uri,
                start_a,
                tuple(a[start_a : head + a1][:MAX_HUNK_LINES]),
                start_b,
                tuple(b[start_b : head + b1][:MAX_HUNK_LINES]),
                tuple(a[max(0, start_a - CONTEXT_LINES) : start_a]),
                tuple(a[head + a1 : head + a1 + CONTEXT_LINES]),
            )
        )
    return hunks
