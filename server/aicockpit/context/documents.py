"""Open documents as the editor sees them, kept in sync by incremental changes.

Documents in a language with a tree-sitter grammar also keep their syntax tree,
edited in step with the text (context/syntax.py).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from aicockpit.context import languages
from aicockpit.context.edits import EditHistory
from aicockpit.context.positions import LineIndex, Position
from aicockpit.context.syntax import SyntaxTree

MAX_SYNTAX_CHARS = 2_000_000  # bigger documents (minified bundles) stay plain text
RECENT_EDITS = 64


class UnknownDocument(KeyError):
    """A request named a document that is not open."""


@dataclass(frozen=True)
class TextChange:
    """One content change: a range replacement, or the whole text when range is None."""

    text: str
    start: Position | None = None
    end: Position | None = None


@dataclass
class TextDocument:
    uri: str
    language_id: str
    version: int
    text: str
    _index: LineIndex | None = field(default=None, repr=False)
    _syntax: SyntaxTree | None = field(default=None, repr=False)
    _syntax_checked: bool = field(default=False, repr=False)

    @property
    def path(self) -> str | None:
        """The file system path of a ``file:`` URI, else None."""
        return uri_to_path(self.uri)

    @property
    def syntax(self) -> SyntaxTree | None:
        """The document's syntax tree, or None for plain text (no grammar, or too big)."""
        if not self._syntax_checked:
            self._syntax_checked = True
            spec = languages.for_document(self.language_id, self.uri)
            if spec is not None and len(self.text) <= MAX_SYNTAX_CHARS:
                try:
                    self._syntax = SyntaxTree(spec, self.text)
                except LookupError:
                    self._syntax = None
        return self._syntax

    @property
    def lines(self) -> LineIndex:
        if self._index is None or self._index.text is not self.text:
            self._index = LineIndex(self.text)
        return self._index

    def apply(self, change: TextChange) -> tuple[int, int, str]:
        """Apply ``change``; returns the string range it replaced in the old text, and its new text."""
        if change.start is None or change.end is None:
            old, self.text = self.text, change.text
            if self._syntax is not None:
                self._syntax.replace(self.text)
            self._drop_syntax_if_too_big()
            return replaced_range(old, self.text)
        index = self.lines
        start = index.offset(index.clamp(change.start))
        end = max(start, index.offset(index.clamp(change.end)))
        text = self.text[:start] + change.text + self.text[end:]
        if self._syntax is not None:
            self._syntax.edit(index, start, end, change.text, text)
        self.text, self._index = text, index.edited(text, start, end, change.text)
        self._drop_syntax_if_too_big()
        return start, end, change.text

    def _drop_syntax_if_too_big(self) -> None:
        if self._syntax is not None and len(self.text) > MAX_SYNTAX_CHARS:
            self._syntax = None


class DocumentStore:
    """The documents the editor has open, by URI."""

    def __init__(self) -> None:
        self._docs: dict[str, TextDocument] = {}
        # (uri, line, monotonic time) of the latest edits, newest last: retrieval's
        # "recently edited regions" source.
        self.recent_edits: deque[tuple[str, int, float]] = deque(maxlen=RECENT_EDITS)
        self.history = EditHistory()  # the same edits as diffs, for next-edit suggestions
        self.close_listeners: list[Callable[[str], None]] = []
        # (uri, text before, start, end, new text) for each change, as string offsets of the
        # text before it: next-edit suggestions follow what the user changed, word by word.
        self.change_listeners: list[Callable[[str, str, int, int, str], None]] = []
        # The document after each didOpen and didChange: the project index follows its text.
        self.text_listeners: list[Callable[[TextDocument], None]] = []

    def open(self, uri: str, language_id: str, version: int, text: str) -> TextDocument:
        doc = TextDocument(uri, language_id, version, text)
        _ = doc.syntax  # parse now, so every later change is an incremental edit
        self._docs[uri] = doc
        self._changed(doc)
        return doc

    def _changed(self, doc: TextDocument) -> None:
        for listener in self.text_listeners:
            listener(doc)

    def change(self, uri: str, version: int, changes: list[TextChange]) -> TextDocument:
        doc = self.get(uri)
        for change in changes:
            if change.start is not None:
                line = max(change.start.line, 0)
            else:  # the whole text (clients without incremental sync): where it differs
                line = doc.text.count("\n", 0, len(os.path.commonprefix([doc.text, change.text])))
            self.history.before_change(uri, doc.text, line)
            before = doc.text
            start, end, inserted = doc.apply(change)
            for listener in self.change_listeners:
                listener(uri, before, start, end, inserted)
            if change.start is not None:
                edit = (uri, line, time.monotonic())
                recent = self.recent_edits
                if recent and recent[-1][:2] == edit[:2]:
                    recent[-1] = edit  # typing along one line is one place, not 64 copies of it
                else:
                    recent.append(edit)
        self.history.after_change(uri, doc.text)
        doc.version = version
        self._changed(doc)
        return doc

    def all(self) -> list[TextDocument]:
        return list(self._docs.values())

    def close(self, uri: str) -> None:
        self.history.closed(uri)
        if self._docs.pop(uri, None) is not None:
            for listener in self.close_listeners:
                listener(uri)

    def get(self, uri: str) -> TextDocument:
        try:
            return self._docs[uri]
        except KeyError:
            raise UnknownDocument(uri) from None

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs


def replaced_range(old: str, new: str) -> tuple[int, int, str]:
    """The one range of ``old`` that ``new`` replaced (common ends kept), and what replaced it."""
    head = len(os.path.commonprefix([old, new]))
    tail = 0
    limit = min(len(old), len(new)) - head
    while tail < limit and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, len(old) - tail, new[head : len(new) - tail]


def uri_to_path(uri: str) -> str | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return unquote(parsed.path)
