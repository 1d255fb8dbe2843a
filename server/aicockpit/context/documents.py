"""Open documents as the editor sees them, kept in sync by incremental changes."""

from __future__ import annotations

from dataclasses import dataclass, field

from aicockpit.context.positions import LineIndex, Position


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

    @property
    def lines(self) -> LineIndex:
        if self._index is None or self._index.text is not self.text:
            self._index = LineIndex(self.text)
        return self._index

    def apply(self, change: TextChange) -> None:
        if change.start is None or change.end is None:
            self.text = change.text
            return
        index = self.lines
        start = index.offset(index.clamp(change.start))
        end = max(start, index.offset(index.clamp(change.end)))
        self.text = self.text[:start] + change.text + self.text[end:]


class DocumentStore:
    """The documents the editor has open, by URI."""

    def __init__(self) -> None:
        self._docs: dict[str, TextDocument] = {}

    def open(self, uri: str, language_id: str, version: int, text: str) -> TextDocument:
        doc = TextDocument(uri, language_id, version, text)
        self._docs[uri] = doc
        return doc

    def change(self, uri: str, version: int, changes: list[TextChange]) -> TextDocument:
        doc = self.get(uri)
        for change in changes:
            doc.apply(change)
        doc.version = version
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def get(self, uri: str) -> TextDocument:
        try:
            return self._docs[uri]
        except KeyError:
            raise UnknownDocument(uri) from None

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs
