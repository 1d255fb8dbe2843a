"""Post-processing that reads the syntax tree (plain-text rules live in postprocess.py).

- The suggestion's shape: inside a comment or string only the rest of the line;
  an empty body wants a block even with its closing bracket right of the cursor
  (``function f() {|}``). The plain-text rules already give a block after
  ``def ...:`` or ``{`` at the end of a line, and one line when code follows.
- A suggestion that would turn error-free code into a syntax error is trimmed to
  the longest run of whole lines that parses, or dropped.
"""

from __future__ import annotations

from dataclasses import replace

import tree_sitter as ts

from aicockpit.completion.postprocess import CursorShape, cursor_shape
from aicockpit.context.documents import TextDocument
from aicockpit.context.syntax import byte_point, byte_to_char, point_after

LINE_SCAN = 4000  # never scan further than this around the cursor (10 MB one-line files)
MAX_ATTEMPTS = 4


def syntax_cursor_shape(doc: TextDocument, offset: int, setting: str = "auto") -> CursorShape:
    text = doc.text
    line_start = text.rfind("\n", max(0, offset - LINE_SCAN), offset) + 1 or max(0, offset - LINE_SCAN)
    line_end = text.find("\n", offset, offset + LINE_SCAN)
    if line_end < 0:
        line_end = min(len(text), offset + LINE_SCAN)
    shape = cursor_shape(text[line_start:offset], text[offset:line_end], setting)
    syntax = doc.syntax
    if setting != "auto" or syntax is None:
        return shape
    start_byte, _ = byte_point(doc.lines, offset)
    node = syntax.tree.root_node.descendant_for_byte_range(start_byte, start_byte)
    body = None
    while node is not None and node.parent is not None:
        kind = node.type
        if ("comment" in kind or kind in ("string", "string_literal", "template_string")) and (
            node.start_byte < start_byte < node.end_byte
        ):
            return replace(shape, multiline=False)
        if body is None and kind in syntax.spec.body_types:
            body = node
        node = node.parent
    only_closers = set(shape.line_after.strip()) <= set(")]};,")
    if not shape.multiline and body is not None and only_closers and _empty(body):
        return replace(shape, multiline=True)  # an empty body wants a block
    return shape


def _empty(body: ts.Node) -> bool:
    return all(child.type == "comment" for child in body.named_children)


def check_insertion(doc: TextDocument, offset: int, suggestion: str) -> str:
    """The suggestion, trimmed to whole lines that keep error-free code error-free, or ''."""
    syntax = doc.syntax
    if syntax is None or not suggestion:
        return suggestion
    text = doc.text
    tree = syntax.tree
    start_byte, start_point = byte_point(doc.lines, offset)
    if _enclosing_errors(tree.root_node, start_point.row, start_point.row):
        return suggestion  # the code is already incomplete here: nothing to compare with
    parser = syntax.grammar.parser()
    region = _region(tree.root_node, text, offset, start_point.row)
    candidate = suggestion
    for attempt in range(MAX_ATTEMPTS):
        if region is not None:
            # The top-level statements around the cursor, parsed alone: a fraction
            # of a large file, where even an incremental reparse costs a millisecond.
            first, last = region
            ok = _parses(parser, text[first:offset] + candidate + text[offset:last])
            if not ok and attempt == 0 and not _parses(parser, text[first:last]):
                return suggestion  # broken without the suggestion too: nothing to compare with
        else:
            new_text = text[:offset] + candidate + text[offset:]
            end_byte, end_point = point_after(start_byte, start_point, candidate)
            old = tree.copy()
            old.edit(start_byte, start_byte, end_byte, start_point, start_point, end_point)
            new_tree = parser.parse(new_text.encode("utf-8", "surrogatepass"), old)
            ok = not _enclosing_errors(new_tree.root_node, start_point.row, end_point.row)
        if ok:
            return candidate
        if "\n" not in candidate.rstrip("\n"):
            return ""
        candidate = candidate.rstrip("\n").rsplit("\n", 1)[0]
    return ""


def _parses(parser: ts.Parser, code: str) -> bool:
    return not parser.parse(code.encode("utf-8", "surrogatepass")).root_node.has_error


def _region(root: ts.Node, text: str, offset: int, row: int) -> tuple[int, int] | None:
    """String offsets of the top-level statements around ``row``, or None if they are much of the text.

    From the last statement that starts at or before the cursor's row (with the
    blank lines after it: an indented suggestion there continues it) through the
    one on the next row. Top-level statements parse on their own in every
    language aicockpit knows; a suggestion that breaks one shows up there.
    """
    children = root.children
    before = [c for c in children if c.start_point.row <= row]
    first = before[-1].start_byte if before else 0
    first = min([first] + [c.start_byte for c in before if c.end_point.row >= row - 1])
    last = max([c.end_byte for c in children if c.start_point.row <= row + 1], default=0)
    if text.isascii():
        first, last = min(first, offset), max(last, offset)
    else:
        source = text.encode("utf-8", "surrogatepass")
        first, last = min(byte_to_char(source, first), offset), max(byte_to_char(source, last), offset)
    # A fresh parse costs several times an incremental one: worth it for a small part only.
    return (first, last) if 4 * (last - first) <= len(text) else None


def _enclosing_errors(root: ts.Node, first_row: int, last_row: int) -> bool:
    """Whether the top-level statements on the rows around the insertion contain a syntax error.

    Rows, not bytes: error recovery often ends an ERROR node just before the cursor.
    """
    for child in root.children:
        if child.end_point.row < first_row - 1 or child.start_point.row > last_row + 1:
            continue
        if child.has_error or child.is_error or child.is_missing:
            return True
    return False
