"""Syntax trees of open documents, kept up to date incrementally.

Each ``didChange`` is applied to the tree with ``tree.edit(...)``; the next time the
tree is needed it is reparsed with the old tree, so tree-sitter re-reads only what
changed. Several edits between two reads cost one reparse. Byte offsets and points
(tree-sitter counts UTF-8 bytes; the editor counts UTF-16 units) are computed here
from string offsets, which positions.py produces: the one place for conversions.
"""

from __future__ import annotations

import tree_sitter as ts

from aicockpit.context.languages import Grammar, LanguageSpec, grammar
from aicockpit.context.positions import LineIndex


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def byte_point(lines: LineIndex, offset: int) -> tuple[int, ts.Point]:
    """Byte offset and tree-sitter point (row, byte column) of a string offset into ``lines.text``.

    The row comes from the line index (counting newlines cost ~20 us per call in a 100 KB
    file, three times a keystroke); ASCII text needs no encoding (``isascii`` is O(1)).
    """
    text = lines.text
    row = lines.line_of(offset)
    line_start = lines.starts[row]
    if text.isascii():
        return offset, ts.Point(row, offset - line_start)
    column = utf8_len(text[line_start:offset])
    return utf8_len(text[:line_start]) + column, ts.Point(row, column)


def point_after(start_byte: int, start: ts.Point, inserted: str) -> tuple[int, ts.Point]:
    """Byte offset and point where ``inserted`` ends once put at ``start_byte``/``start``."""
    size = len(inserted) if inserted.isascii() else utf8_len(inserted)
    last_newline = inserted.rfind("\n")
    if last_newline < 0:
        return start_byte + size, ts.Point(start.row, start.column + size)
    end = ts.Point(start.row + inserted.count("\n"), utf8_len(inserted[last_newline + 1 :]))
    return start_byte + size, end


class SyntaxTree:
    """One document's tree. ``tree`` is always the parse of the current text."""

    def __init__(self, spec: LanguageSpec, text: str) -> None:
        loaded = grammar(spec)
        if loaded is None:
            raise LookupError(spec.name)
        self.grammar: Grammar = loaded
        self._parser = loaded.parser()
        self._text = text
        self._tree = self._parser.parse(text.encode("utf-8", "surrogatepass"))
        self._stale = False
        self.reparses = 0  # incremental reparses so far (for tests and stats)

    @property
    def spec(self) -> LanguageSpec:
        return self.grammar.spec

    @property
    def tree(self) -> ts.Tree:
        if self._stale:
            # Reuse the edited old tree: tree-sitter re-reads only the changed ranges.
            self._tree = self._parser.parse(self._text.encode("utf-8", "surrogatepass"), self._tree)
            self._stale = False
            self.reparses += 1
        return self._tree

    @property
    def source(self) -> bytes:
        return self._text.encode("utf-8", "surrogatepass")

    def edit(self, lines: LineIndex, start: int, end: int, inserted: str, new_text: str) -> None:
        """``lines.text[start:end]`` (string offsets) became ``inserted``, making ``new_text``."""
        if lines.text is not self._text and lines.text != self._text:
            self.replace(new_text)
            return
        start_byte, start_point = byte_point(lines, start)
        old_end_byte, old_end_point = byte_point(lines, end)
        new_end_byte, new_end_point = point_after(start_byte, start_point, inserted)
        self._tree.edit(
            start_byte=start_byte,
            old_end_byte=old_end_byte,
            new_end_byte=new_end_byte,
            start_point=start_point,
            old_end_point=old_end_point,
            new_end_point=new_end_point,
        )
        self._text = new_text
        self._stale = True

    def replace(self, text: str) -> None:
        """A full-text change: parse from scratch."""
        self._text = text
        self._tree = self._parser.parse(text.encode("utf-8", "surrogatepass"))
        self._stale = False


def node_text(node: ts.Node) -> str:
    # ``text`` is None only for a tree parsed without its source at hand; ours always have it.
    return (node.text or b"").decode("utf-8", "replace")


def byte_to_char(source: bytes, byte: int) -> int:
    """String offset of a byte offset into ``source`` (UTF-8)."""
    return len(source[:byte].decode("utf-8", "replace"))
