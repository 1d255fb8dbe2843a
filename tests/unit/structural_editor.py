"""A document typed into key by key, with the structural finder asked for next edits (unit tests)."""

from __future__ import annotations

import re

from aicockpit.context.documents import DocumentStore, TextChange
from aicockpit.next_edit.structural.changes import ChangeLog
from aicockpit.next_edit.structural.finder import StructuralEdit, StructuralFinder

EXTENSIONS = {"python": "py", "javascript": "js", "typescript": "ts", "go": "go", "rust": "rs"}


class Typist:
    def __init__(
        self, text: str, language: str = "python", name: str = "a", store: DocumentStore | None = None
    ):
        self.store = store or DocumentStore()
        self.changes = ChangeLog()
        self.store.change_listeners.append(self.changes.record)
        self.uri = f"file:///w/{name}.{EXTENSIONS[language]}"
        self.doc = self.store.open(self.uri, language, 1, text)
        self.imports: set[tuple[str, str]] = set()
        self.finder = StructuralFinder(self.changes, lambda a, b: (a.uri, b.uri) in self.imports)

    @property
    def text(self) -> str:
        return self.doc.text

    def replace(self, start: int, end: int, new: str) -> None:
        lines = self.doc.lines
        change = TextChange(new, lines.position(start), lines.position(end))
        self.store.change(self.uri, self.doc.version + 1, [change])

    def retype(self, word: str, new: str, nth: int = 0) -> int:
        """Backspace over the ``nth`` whole ``word``, type ``new``; the cursor after it."""
        at = self.find(word, nth)
        for n in range(len(word), 0, -1):
            self.replace(at + n - 1, at + n, "")
        for n, ch in enumerate(new):
            self.replace(at + n, at + n, ch)
        return at + len(new)

    def find(self, word: str, nth: int = 0) -> int:
        """Where the ``nth`` whole-word ``word`` starts."""
        return [m.start() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", self.text)][nth]

    def type(self, at: int, text: str) -> int:
        for n, ch in enumerate(text):
            self.replace(at + n, at + n, ch)
        return at + len(text)

    def suggest(self, cursor: int, others=()) -> tuple[StructuralEdit | None, str]:
        return self.finder.suggest(self.doc, cursor, others)

    def take(self, found: StructuralEdit) -> int:
        for edit in sorted(found.edits, key=lambda e: e.start, reverse=True):
            self.replace(edit.start, edit.end, edit.text)
        last = max(found.edits, key=lambda e: e.start)
        return last.start + len(last.text)

    def take_all(self, cursor: int, others=()) -> tuple[list[StructuralEdit], str]:
        """Take every next edit until none comes: what was taken, and why none came."""
        taken = []
        for _ in range(100):
            found, why = self.suggest(cursor, others)
            if found is None:
                return taken, why
            taken.append(found)
            cursor = self.take(found)
        raise AssertionError("the suggestions did not end")
