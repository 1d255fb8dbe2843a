"""What a model's suggestion may never do: undo the user's last edit, or change text outside
the region it was given. Such a suggestion is dropped, never shown."""

from __future__ import annotations

from aicockpit.edit.diff import TextEdit
from aicockpit.next_edit.structural.changes import Span


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def outside(edits: list[TextEdit], start: int, end: int) -> bool:
    """Does any edit reach outside ``start:end`` (string offsets)?"""
    return any(edit.start < start or edit.end > end for edit in edits)


def undoes(text: str, edits: list[TextEdit], last: Span | None) -> bool:
    """Would the edits put back, in whole or on its line, what the user's last change replaced?"""
    if last is None or not last.changed:
        return False
    touching = [e for e in edits if e.start <= last.end and last.start <= e.end]
    if not touching:
        return False
    result = apply_edits(text, touching)
    undone = text[: last.start] + last.old + text[last.end :]
    if result == undone:
        return True
    line_start = text.rfind("\n", 0, last.start) + 1
    old_end = undone.find("\n", last.start + len(last.old))
    old_line = undone[line_start : len(undone) if old_end < 0 else old_end]
    new_end = result.find("\n", line_start)
    return result[line_start : len(result) if new_end < 0 else new_end] == old_line
