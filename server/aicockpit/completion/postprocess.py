"""Turns raw model output into a suggestion that fits where the cursor is.

Plain string rules, no model calls: decide single- or multi-line, cut where the
suggestion should end, drop what duplicates the code after the cursor, and stop
degenerate repetition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BLOCK_OPENERS = (":", "{", "(", "[", "=>")
_REPEAT = re.compile(r"(.{2,}?)\1{3,}", re.DOTALL)
_CLOSERS = re.compile(r"[\s)\]}'\"`;,.:]+")
_PAIRS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class CursorShape:
    """What the text around the cursor says about the suggestion's shape."""

    line_before: str
    line_after: str
    multiline: bool

    @property
    def indent(self) -> str:
        return self.line_before[: len(self.line_before) - len(self.line_before.lstrip())]


def cursor_shape(line_before: str, line_after: str, setting: str = "auto") -> CursorShape:
    if setting == "always":
        multiline = True
    elif setting == "never" or line_after.strip():
        # Text right of the cursor: only finish this line.
        multiline = False
    else:
        stripped = line_before.strip()
        multiline = stripped == "" or stripped.endswith(BLOCK_OPENERS)
    return CursorShape(line_before, line_after, multiline)


def shape_suggestion(raw: str, shape: CursorShape, suffix: str, truncated: bool = False) -> str:
    """``truncated``: the model stopped at ``max_tokens``, in the middle of whatever it was writing."""
    text = _cut_repetition(raw)
    if truncated and shape.multiline and "\n" in text.strip("\n"):
        # Several lines, the last cut short by the token budget: show the complete ones.
        text = text[: text.rstrip("\n").rfind("\n")]
    if shape.line_before[-1:] in (" ", "\t"):
        # The cursor already sits after whitespace (an indentation, "return "): a model whose
        # tokens carry their leading space would double it (real models do, at a prompt that
        # ends in a space).
        text = text.lstrip(" \t")
    if not shape.multiline:
        text = text.split("\n", 1)[0]
    else:
        text = _cut_at_block_end(text, shape, suffix)
    text = _balance_brackets(text, shape.line_after)
    text = _drop_suffix_overlap(text, shape.line_after)
    return text.rstrip() if "\n" in text else text.rstrip("\n")


def _cut_repetition(text: str) -> str:
    for match in _REPEAT.finditer(text):
        if match.group(1).strip():  # repeated indentation is not a loop
            return text[: match.start() + len(match.group(1))]
    return text


def _cut_at_block_end(text: str, shape: CursorShape, suffix: str) -> str:
    """Keep lines while they stay inside the cursor's block; stop at existing code."""
    lines = text.split("\n")
    base = _body_indent(shape)
    next_existing = next((line.strip() for line in suffix.split("\n")[1:] if line.strip()), None)
    kept = [lines[0]]
    for line in lines[1:]:
        if line.strip():
            if len(line) - len(line.lstrip()) < base:
                break
            if next_existing is not None and line.strip() == next_existing:
                break
        kept.append(line)
    return "\n".join(kept)


def _body_indent(shape: CursorShape) -> int:
    """Lines indented less than this have left the cursor's block."""
    base = len(shape.indent)
    if shape.line_before.rstrip().endswith(BLOCK_OPENERS):
        base += 1  # the block's body is deeper than the line that opens it
    return base


def _balance_brackets(text: str, line_after: str) -> str:
    """Stop before a closing bracket that closes what the code right of the cursor already closes."""
    rest = line_after.lstrip()
    if not rest or rest[0] not in _PAIRS:
        return text
    stack: list[str] = []
    quote = ""
    for index, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[index - 1] != "\\" else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            stack.append(ch)
        elif ch in _PAIRS:
            if stack and stack[-1] == _PAIRS[ch]:
                stack.pop()
            elif not stack and ch == rest[0]:
                return text[:index]
    return text


def _drop_suffix_overlap(text: str, line_after: str) -> str:
    """The model often re-writes what is already right of the cursor: its closing brackets,
    or (a model that never saw the suffix) the rest of the line itself."""
    rest = line_after.rstrip()
    if not rest or "\n" in text:
        return text
    for size in range(min(len(text), len(rest)), 0, -1):
        part = rest[:size]
        if not text.endswith(part) or not part.strip():
            continue
        whole_words = size == len(rest) or (size >= 3 and not _IDENT_CHAR.match(rest[size]))
        if _CLOSERS.fullmatch(part) or whole_words:
            return text[:-size]
    return text


_IDENT_CHAR = re.compile(r"[\w$]")


def suggestion_settled(raw: str, shape: CursorShape, suffix: str) -> bool:
    """True once more output cannot change the suggestion: generation may stop early.

    Streaming calls this after every delta. A single-line suggestion is settled at
    its first newline; a multi-line one when a complete line leaves the cursor's
    block or repeats the code after the cursor, or when the output loops.
    """
    if not shape.multiline:
        return "\n" in raw
    if _cut_repetition(raw) != raw:
        return True
    last_newline = raw.rfind("\n")
    if last_newline < 0:
        return False
    # Complete lines are judged by every rule; the line being written only by its
    # indent, which is known as soon as it has a visible character.
    settled, tail = raw[:last_newline], raw[last_newline + 1 :]
    if tail.strip() and len(tail) - len(tail.lstrip()) < _body_indent(shape):
        return True
    return _cut_at_block_end(settled, shape, suffix) != settled
