"""Minimal line diffs: only the lines that changed become text edits."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from aicockpit.context.edits import common_ends
from aicockpit.context.positions import Position


@dataclass(frozen=True)
class LineEdit:
    """Replace lines [start_line, end_line) of the document with ``text``."""

    start_line: int
    end_line: int
    text: str

    def positions(self) -> tuple[Position, Position]:
        return Position(self.start_line, 0), Position(self.end_line, 0)


def line_edits(old: str, new: str, first_line: int) -> list[LineEdit]:
    """Edits turning ``old`` (whole lines starting at ``first_line``) into ``new``."""
    if old.endswith("\n") and new and not new.endswith("\n"):
        new += "\n"  # the model's block never ends with the newline the old lines had
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    edits = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag != "equal":
            edits.append(LineEdit(first_line + a0, first_line + a1, "".join(new_lines[b0:b1])))
    return edits


@dataclass(frozen=True)
class TextEdit:
    """Replace the document's characters [start, end) with ``text`` (offsets in the document)."""

    start: int
    end: int
    text: str


def minimal_edits(old: str, new: str, base: int) -> list[TextEdit]:
    """Character-precise edits turning ``old`` (at offset ``base`` of the document) into ``new``.

    Lines are matched first; within each changed block, the characters the old
    and new text share at both ends are left alone, so a renamed parameter is
    one small edit, not a rewritten line.
    """
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    edits = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        before, after = "".join(old_lines[a0:a1]), "".join(new_lines[b0:b1])
        head, tail = common_ends(before, after)
        start = base + sum(len(line) for line in old_lines[:a0]) + head
        edits.append(TextEdit(start, start + len(before) - head - tail, after[head : len(after) - tail]))
    return edits


def apply_line_edits(text: str, edits: list[LineEdit]) -> str:
    """Apply edits (as an editor would) — used by the CLI and the tests."""
    lines = text.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: e.start_line, reverse=True):
        lines[edit.start_line : edit.end_line] = [edit.text] if edit.text else []
    return "".join(lines)


def unified_diff(old: str, new: str, path: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )
