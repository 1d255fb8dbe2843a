"""``@file`` and ``@symbol`` mentions in chat messages, resolved to code snippets.

A mention is tried as a workspace path (exact, then fuzzy), then as a symbol.
Paths that leave the workspace are refused before anything is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from aicockpit.context.files import WorkspaceFiles
from aicockpit.context.retrieve import ContextSnippet
from aicockpit.context.workspace import RefusedPath
from aicockpit.context.workspace_index import WorkspaceIndex

MENTION = re.compile(r"(?<![\w@])@((?:[~./\\]|\w)[\w./\\~-]*\w|\w)")
MAX_SNIPPET_LINES = 400


class SymbolLookup(Protocol):
    def lookup(self, name: str) -> list[ContextSnippet]: ...


@dataclass
class MentionContext:
    snippets: list[ContextSnippet] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def mentions(message: str) -> list[str]:
    return list(dict.fromkeys(MENTION.findall(message)))


def _looks_like_path(mention: str) -> bool:
    return "/" in mention or "\\" in mention or mention.startswith(("~", ".")) or "." in mention


def resolve_mentions(
    message: str, workspace: WorkspaceFiles | None, symbols: SymbolLookup | None
) -> MentionContext:
    out = MentionContext()
    for mention in mentions(message):
        if workspace is None:
            out.notices.append(f"@{mention}: no workspace folder is open, so nothing can be read")
            continue
        try:
            snippet = _file_snippet(mention, workspace) if _looks_like_path(mention) else None
        except RefusedPath as refused:
            out.notices.append(f"@{mention} refused: {refused}")
            continue
        except (OSError, ValueError) as err:
            out.notices.append(f"@{mention}: {err}")
            continue
        if snippet is not None:
            out.snippets.append(snippet)
            continue
        found = symbols.lookup(mention) if symbols is not None else []
        if found:
            out.snippets.extend(found)
            continue
        try:
            snippet = _file_snippet(mention, workspace)
        except (OSError, ValueError):
            snippet = None
        if snippet is not None:
            out.snippets.append(snippet)
        else:
            out.notices.append(f"@{mention}: no such file or symbol in the workspace")
    return out


def _file_snippet(mention: str, workspace: WorkspaceFiles) -> ContextSnippet | None:
    if not workspace.resolve(mention).is_file():  # refuses escapes and secrets before anything else
        matches = workspace.find(mention, limit=1)
        if not matches:
            return None
        mention = matches[0]
    file = workspace.read(mention)
    lines = file.text.split("\n")[:MAX_SNIPPET_LINES]
    return ContextSnippet(file.relative, 0, len(lines) - 1, "\n".join(lines), "mentioned")


_DEFINITION = (
    r"^[ \t]*(?:export\s+)?(?:pub\s+)?(?:async\s+)?"
    r"(?:def|class|function|func|fn|interface|type|struct)\s+{name}\b"
)


class ScanningSymbols:
    """Finds definitions by scanning workspace files (until the project index answers this)."""

    def __init__(self, workspace: WorkspaceFiles, max_results: int = 3, block_lines: int = 60) -> None:
        self._workspace = workspace
        self._max = max_results
        self._block = block_lines

    def lookup(self, name: str) -> list[ContextSnippet]:
        if not re.fullmatch(r"\w+", name):
            return []
        pattern = re.compile(_DEFINITION.format(name=re.escape(name)), re.MULTILINE)
        found: list[ContextSnippet] = []
        for relative in self._workspace.files():
            try:
                text = self._workspace.read(relative).text
            except (OSError, ValueError):
                continue
            match = pattern.search(text)
            if match is None:
                continue
            start = text.count("\n", 0, match.start())
            lines = text.split("\n")
            end = _block_end(lines, start, self._block)
            found.append(
                ContextSnippet(relative, start, end, "\n".join(lines[start : end + 1]), f"defines {name}")
            )
            if len(found) >= self._max:
                break
        return found


def _block_end(lines: list[str], start: int, limit: int) -> int:
    """Last line of the definition starting at ``start`` (by indentation), within ``limit`` lines."""
    head = lines[start]
    indent = len(head) - len(head.lstrip())
    end = start
    for number in range(start + 1, min(len(lines), start + limit)):
        line = lines[number]
        if line.strip():
            if len(line) - len(line.lstrip()) <= indent and not line.lstrip().startswith(("}", ")", "]")):
                break
            end = number
    return end


class IndexSymbols:
    """Definitions from the project index, shown whole (up to ``block_lines``) when the file reads."""

    def __init__(
        self, index: WorkspaceIndex, workspace: WorkspaceFiles, max_results: int = 3, block_lines: int = 80
    ) -> None:
        self._index = index
        self._workspace = workspace
        self._max = max_results
        self._block = block_lines

    def lookup(self, name: str) -> list[ContextSnippet]:
        found = []
        for display, definition in self._index.find_definitions(name)[: self._max]:
            end = min(definition.end_line, definition.start_line + self._block - 1)
            try:
                lines = self._workspace.read(display).text.split("\n")
                text = "\n".join(lines[definition.start_line : end + 1])
            except (OSError, ValueError):
                text = definition.excerpt or definition.signature
            found.append(ContextSnippet(display, definition.start_line, end, text, f"defines {name}"))
        return found
