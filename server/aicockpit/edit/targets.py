"""What an AI code action works on: instruction comments, blocks, enclosing definitions.

Plain text rules by indentation and brackets, so they work for any language
(the syntax tree, when there is one, can refine them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HASH_COMMENT = {
    "python",
    "shellscript",
    "sh",
    "bash",
    "ruby",
    "yaml",
    "toml",
    "perl",
    "r",
    "dockerfile",
    "makefile",
}
DASH_COMMENT = {"lua", "sql", "haskell"}
_DEFINITION = re.compile(
    r"^\s*(?:export\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:public\s+|private\s+|protected\s+|static\s+)*"
    r"(?:async\s+)?(?:def|class|function|func|fn|interface|struct|impl)\b"
)


def comment_prefix(language: str) -> str:
    language = language.lower()
    if language in HASH_COMMENT:
        return "#"
    if language in DASH_COMMENT:
        return "--"
    return "//"


def instruction_pattern(language: str) -> re.Pattern[str]:
    return re.compile(
        rf"^\s*{re.escape(comment_prefix(language))}\s*ai:\s*(?P<text>\S.*?)\s*$", re.IGNORECASE
    )


@dataclass(frozen=True)
class Instruction:
    line: int  # the comment's line
    text: str


def find_instruction(lines: list[str], language: str, first: int, last: int) -> Instruction | None:
    """An ``ai:`` comment in lines [first, last], or on the line above ``first``."""
    pattern = instruction_pattern(language)
    for number in [*range(max(first, 0), min(last, len(lines) - 1) + 1), first - 1]:
        if 0 <= number < len(lines):
            match = pattern.match(lines[number])
            if match:
                return Instruction(number, match.group("text"))
    return None


def block_after(lines: list[str], line: int) -> tuple[int, int] | None:
    """Lines [start, end] of the statement or block that follows ``line``."""
    start = next((n for n in range(line + 1, len(lines)) if lines[n].strip()), None)
    if start is None:
        return None
    return start, block_end(lines, start)


def block_end(lines: list[str], start: int) -> int:
    """Last line of the block headed by ``start``: deeper-indented lines and balanced brackets."""
    indent = _indent(lines[start])
    depth = _bracket_delta(lines[start])
    end = start
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if not line.strip():
            continue
        if depth <= 0 and _indent(line) <= indent:
            break
        depth += _bracket_delta(line)
        end = number
        if depth <= 0 and line.strip().startswith(("}", ")", "]")) and _indent(line) <= indent:
            break
    return end


def enclosing_definition(lines: list[str], line: int) -> tuple[int, int] | None:
    """Lines [start, end] of the function or class around ``line``, innermost first."""
    for number in range(min(line, len(lines) - 1), -1, -1):
        if _DEFINITION.match(lines[number]):
            end = block_end(lines, number)
            if end >= line:
                return number, end
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _bracket_delta(line: str) -> int:
    code = re.sub(r"(['\"]).*?\1", "", line)
    return sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
