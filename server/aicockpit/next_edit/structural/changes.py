"""Where the user changed a document, word by word: the input of the structural finders.

Every content change of an open document is recorded as a span of the current text:
what it held before (``old``) and what it holds now (``new``). Keystrokes that touch
the span being typed extend it, so typing ``size`` over ``width`` is one span
``width -> size``; an undo that restores the text merges into the same span and leaves
nothing. Spans before a change shift with it, spans a change crosses merge into one.
Bounded in count per document: the finders look at the newest few.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_SPANS = 256  # per document: a rename of this many uses is still seen whole
MAX_SPAN_CHARS = 2_000  # a paste or a reformat is not a word edit: it is kept, but not extended

_WORD_CHAR = re.compile(r"\w")


@dataclass
class Span:
    """``old`` became ``new``, which now starts at ``start`` (a string offset of the current text)."""

    start: int
    old: str
    new: str
    at: float  # when it was last extended (monotonic seconds)
    serial: int  # order of the last change that touched it

    @property
    def end(self) -> int:
        return self.start + len(self.new)

    @property
    def changed(self) -> bool:
        return self.old != self.new


class ChangeLog:
    """The word-level spans of each open document, newest last."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._spans: dict[str, list[Span]] = {}
        self._serial = 0

    def record(self, uri: str, text: str, start: int, end: int, inserted: str) -> None:
        """``text[start:end]`` (the text before the change) is about to become ``inserted``."""
        self._serial += 1
        spans = self._spans.setdefault(uri, [])
        delta = len(inserted) - (end - start)
        touched = [s for s in spans if s.start <= end and start <= s.end and len(s.new) <= MAX_SPAN_CHARS]
        if touched and max(s.serial for s in touched) != spans[-1].serial:
            # Back at a place changed before other places were: a change of its own (the name
            # the user typed there then is what is changed now), not the same one continued.
            touched = []
        kept = [s for s in spans if s not in touched and not (s.start < end and start < s.end)]
        for span in kept:
            if span.start >= end:
                span.start += delta
        if touched:
            lo = min(start, *(s.start for s in touched))
            hi = max(end, *(s.end for s in touched))
            old = _original(text, lo, hi, touched)
            new = text[lo:start] + inserted + text[end:hi]
        else:
            lo, old, new = start, text[start:end], inserted
        merged = Span(lo, old, new, self._clock(), self._serial)
        if merged.changed:
            kept.append(merged)
        kept.sort(key=lambda s: s.serial)
        self._spans[uri] = kept[-MAX_SPANS:]

    def replaced(self, uri: str) -> None:
        """The whole text was replaced by another (no ranges): positions are unknown now."""
        self._spans.pop(uri, None)

    def spans(self, uri: str) -> list[Span]:
        """The document's spans, newest last."""
        return list(self._spans.get(uri, ()))

    def forget(self, uri: str) -> None:
        self._spans.pop(uri, None)

    def uris(self) -> list[str]:
        return list(self._spans)


def _original(text: str, lo: int, hi: int, spans: list[Span]) -> str:
    """The text that ``text[lo:hi]`` held before ``spans`` (which lie inside it) were made."""
    parts, at = [], lo
    for span in sorted(spans, key=lambda s: s.start):
        parts.append(text[at : span.start])
        parts.append(span.old)
        at = span.end
    parts.append(text[at:hi])
    return "".join(parts)


def is_word(text: str) -> bool:
    return all(_WORD_CHAR.match(ch) for ch in text)
