"""Prompt layout for vLLM's prefix cache: slowest-changing text first.

vLLM hashes the prompt in KV blocks, each block's hash covering everything before
it, so one changed token invalidates every later block. The layout is therefore:

    repository context (stable order)  ->  the file's header  ->  local prefix  ->  suffix

The repository context uses the model family's repository tokens where it has
them (Qwen2.5-Coder ``<|repo_name|>``/``<|file_sep|>``, StarCoder2 ``<repo_name>``/
``<file_sep>``), and path comments otherwise. Between keystrokes the snippets keep
their order and text: a snippet chosen before stays where it was, new ones are
appended after the old ones, and the previous choice gets a small ranking bonus so
near-ties do not flip.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from aicockpit.context.retrieve import ContextSnippet
from aicockpit.prompt.fim import FimTemplate, TokenCounter

STICKY_BONUS = 1.15
REMEMBERED_DOCUMENTS = 256
TOKEN_CACHE = 8192


@dataclass(frozen=True)
class RepoFormat:
    repo: str  # before the repository name
    file: str  # before each file's path


REPO_FORMATS = {
    "qwen": RepoFormat("<|repo_name|>", "<|file_sep|>"),
    "starcoder": RepoFormat("<repo_name>", "<file_sep>"),
}


@dataclass
class PromptPieces:
    """Everything one completion prompt is made of, in layout order."""

    repo: str
    path: str
    comment: str
    snippets: list[ContextSnippet] = field(default_factory=list)
    snippet_tokens: list[int] = field(default_factory=list)
    header: str = ""
    prefix: str = ""
    suffix: str = ""

    def render(self, template: FimTemplate) -> str:
        before = self.header + self.prefix
        if not self.snippets:
            return template.render(before, self.suffix)
        repo_format = REPO_FORMATS.get(template.name)
        if repo_format is not None:
            context = f"{repo_format.repo}{self.repo}\n" + "".join(
                render_snippet(s, template, self.comment) for s in self.snippets
            )
            return f"{context}{repo_format.file}{self.path}\n{template.render(before, self.suffix)}"
        context = "".join(render_snippet(s, template, self.comment) for s in self.snippets)
        return template.render(f"{context}{self.comment} {self.path}\n{before}", self.suffix)

    def describe(self) -> list[dict]:
        """The chosen snippets, for ``aicockpit context``, ``aicockpit/context`` and stats."""
        return [
            {
                "path": s.path,
                "start_line": s.start_line + 1,
                "end_line": s.end_line + 1,
                "reason": s.reason,
                "tokens": tokens,
                "score": round(s.score, 4),
            }
            for s, tokens in zip(self.snippets, self.snippet_tokens, strict=True)
        ]


def render_snippet(snippet: ContextSnippet, template: FimTemplate, comment: str) -> str:
    repo_format = REPO_FORMATS.get(template.name)
    text = snippet.text.rstrip("\n")
    if repo_format is not None:
        return f"{repo_format.file}{snippet.path}\n{text}\n"
    return f"{comment} {snippet.path}\n{text}\n\n"


class SnippetLayout:
    """Fits snippets to a token budget, keeping each document's previous order."""

    def __init__(self) -> None:
        self._previous: OrderedDict[str, list[tuple[str, int, int]]] = OrderedDict()
        self._tokens: OrderedDict[str, int] = OrderedDict()

    def count(self, text: str, tokens: TokenCounter) -> int:
        cached = self._tokens.get(text)
        if cached is None:
            cached = self._tokens[text] = tokens.count(text)
            if len(self._tokens) > TOKEN_CACHE:
                self._tokens.popitem(last=False)
        return cached

    def fit(
        self,
        uri: str,
        candidates: list[ContextSnippet],
        budget: int,
        tokens: TokenCounter,
        template: FimTemplate,
        comment: str,
    ) -> tuple[list[ContextSnippet], list[int]]:
        previous = self._previous.get(uri, [])
        rank = {key: i for i, key in enumerate(previous)}
        ordered = sorted(candidates, key=lambda s: -(s.score * (STICKY_BONUS if s.key in rank else 1.0)))
        chosen: list[tuple[ContextSnippet, int]] = []
        used = 0
        for snippet in ordered:
            cost = self.count(render_snippet(snippet, template, comment), tokens)
            if used + cost > budget:
                continue  # a smaller one further down may still fit
            chosen.append((snippet, cost))
            used += cost
        # Stable order: what was there before keeps its place; newcomers go after it.
        chosen.sort(key=lambda item: rank.get(item[0].key, len(rank)))
        keys = [s.key for s, _ in chosen]
        self._previous[uri] = keys
        self._previous.move_to_end(uri)
        if len(self._previous) > REMEMBERED_DOCUMENTS:
            self._previous.popitem(last=False)
        return [s for s, _ in chosen], [cost for _, cost in chosen]

    def forget(self, uri: str) -> None:
        self._previous.pop(uri, None)
