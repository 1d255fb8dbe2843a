"""The typing-through cache: suggestions that are still valid while the user types them.

An entry remembers the text around the cursor when a suggestion was made. A
later cursor matches when the document is that same text with a prefix of the
suggestion typed at the cursor (nothing else changed): the answer is the rest
of the suggestion, and the engine is not asked.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from aicockpit.completion.service import Cursor


@dataclass(frozen=True)
class CachedSuggestion:
    before: str  # the document up to the cursor, when the suggestion was made
    after: str  # the document from the cursor on
    suggestion: str

    def remainder(self, cursor: Cursor) -> str | None:
        """The rest of the suggestion if ``cursor`` is this entry's text with a prefix of it typed."""
        text, offset = cursor.text, cursor.offset
        typed = offset - len(self.before)
        # Cheap checks first; the two full-text comparisons are memcmp-fast and copy nothing.
        if typed < 0 or typed >= len(self.suggestion) or len(text) - offset != len(self.after):
            return None
        if not self.suggestion.startswith(text[len(self.before) : offset]):
            return None
        if not (text.startswith(self.before) and text.endswith(self.after)):
            return None
        return self.suggestion[typed:]


class SuggestionCache:
    """The latest suggestions of one document (few: typing moves on, old text rarely comes back)."""

    def __init__(self, size: int = 8) -> None:
        self._entries: deque[CachedSuggestion] = deque(maxlen=size)

    def add(self, cursor: Cursor, suggestion: str) -> None:
        if not suggestion.strip():
            return
        entry = CachedSuggestion(cursor.text[: cursor.offset], cursor.text[cursor.offset :], suggestion)
        if entry not in self._entries:
            self._entries.append(entry)

    def lookup(self, cursor: Cursor) -> str | None:
        for entry in reversed(self._entries):
            rest = entry.remainder(cursor)
            if rest is not None and rest.strip():
                return rest
        return None

    def __len__(self) -> int:
        return len(self._entries)
