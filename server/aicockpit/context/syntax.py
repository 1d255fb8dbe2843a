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


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def byte_point(text: str, offset: int) -> tuple[int, ts.Point]:
    """Byte offset and tree-sitter point (row, byte column) of a string offset."""
    row = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    if text.isascii():  # O(1) in CPython: no need to encode the text before the offset
        return offset, ts.Point(row, offset - line_start)
    column = utf8_len(text[line_start:offset])
    return utf8_len(text[:line_start]) + column, ts.Point(row, column)


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

    def edit(self, old_text: str, start: int, end: int, new_fragment: str) -> str:
        """Replace ``old_text[start:end]`` (string offsets) and return the new text."""
        if old_text is not self._text and old_text != self._text:
            return self.replace(old_text[:start] + new_fragment + old_text[end:])
        new_text = old_text[:start] + new_fragment + old_text[end:]
        start_byte, start_point = byte_point(old_text, start)
        old_end_byte, old_end_point = byte_point(old_text, end)
        new_end_byte, new_end_point = byte_point(new_text, start + len(new_fragment))
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
        return new_text

    def replace(self, text: str) -> str:
        """A full-text change: parse from scratch."""
        self._text = text
        self._tree = self._parser.parse(text.encode("utf-8", "surrogatepass"))
        self._stale = False
        return text


def node_text(node: ts.Node) -> str:
    # ``text`` is None only for a tree parsed without its source at hand; ours always have it.
    return (node.text or b"").decode("utf-8", "replace")


def byte_to_char(source: bytes, byte: int) -> int:
    """String offset of a byte offset into ``source`` (UTF-8)."""
    return len(source[:byte].decode("utf-8", "replace"))
