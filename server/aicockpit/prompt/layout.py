"""Prompt layout for vLLM's prefix cache: slowest-changing text first.

vLLM hashes the prompt in KV blocks, each block's hash covering everything before
it, so one changed token invalidates every later block. The layout is therefore:

    repository context (stable order)  ->  the file's header  ->  local prefix  ->  suffix

The repository context uses the model's repository tokens where it has them
(Qwen2.5-Coder ``<|repo_name|>``/``<|file_sep|>``, StarCoder2
``<repo_name>``/``<file_sep>``), and path comments otherwise: for models
without FIM tokens, and for APIs that take the suffix in a field of their own
(they wrap the prompt in the FIM template themselves, so nothing can precede
its FIM prefix). The current
file's path always comes right before its code, snippets or not.

Between keystrokes the snippets keep their order and text: a snippet chosen
before stays where it was, new ones are appended after the old ones, and the
previous choice gets a small ranking bonus so near-ties do not flip. When
retrieval stopped at its time box (a loaded machine, cold caches), the previous
choice is kept in full rather than losing a snippet at random: a snippet missing
from the middle of the context would make everything after it, the code
included, new to the prefix cache.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aicockpit.context.retrieve import ContextSnippet
from aicockpit.generation import TokenCounter
from aicockpit.prompt.fim import FimTemplate

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


@dataclass(frozen=True)
class CodeFormat:
    """One backend's completion prompt layout, resolved from its ``PromptFormat`` and tokenizer."""

    template: FimTemplate
    repo: RepoFormat | None  # the model's repository tokens; None: path comments
    comment: str  # the document language's line comment, for path comments
    suffix_field: bool = False  # the suffix goes in the API's own field, not the prompt
    max_stops: int | None = None

    @property
    def sends_suffix(self) -> bool:
        return self.suffix_field or self.template.fills_middle


def repo_format_for(template: FimTemplate, special_tokens: set[str], suffix_field: bool) -> RepoFormat | None:
    """The repository tokens this prompt can use: those the model family was trained with.

    A suffix-field API wraps the prompt in the model's FIM template itself, so
    nothing may come before its FIM prefix: path comments there. A prefix-only
    prompt (a general model without FIM tokens) gets path comments too, even when
    its tokenizer lists repository tokens: SmolLM2 has ``<repo_name>`` and
    ``<file_sep>``, and with them it writes prose after a function header where
    with path comments it writes the body (seen here, greedy decoding).
    """
    if suffix_field or not template.fills_middle:
        return None
    return REPO_FORMATS.get(template.name)


@dataclass
class PromptPieces:
    """Everything one completion prompt is made of, in layout order."""

    repo: str
    path: str
    snippets: list[ContextSnippet] = field(default_factory=list)
    snippet_tokens: list[int] = field(default_factory=list)
    header: str = ""
    prefix: str = ""
    suffix: str = ""  # the document's code after the cursor (sent or not, post-processing needs it)

    def render(self, form: CodeFormat) -> tuple[str, str | None]:
        """The prompt text and, for suffix-field APIs, the suffix field; slowest-changing text first."""
        context = "".join(render_snippet(s, form) for s in self.snippets)
        if form.repo is not None:
            context = f"{form.repo.repo}{self.repo}\n{context}"
        context += file_line(self.path, form)
        code = self.header + self.prefix
        if form.suffix_field:
            # Never an empty suffix (the end of a file): Ollama then skips the model's FIM
            # template and wraps the prompt in its chat template instead.
            return context + code, self.suffix or "\n"
        if not form.template.fills_middle:
            # The prompt ends at the cursor: trailing spaces would end it mid-token (models
            # attach a space to the word after it) and derail the model; it writes them
            # itself, and post-processing drops what the cursor already follows.
            line = code[code.rfind("\n") + 1 :]
            if line.strip():  # an indentation alone stays: it tells the model where the block is
                code = code.rstrip(" \t")
        if form.repo is not None:  # the repository frame comes before the FIM markers
            return context + form.template.render(code, self.suffix), None
        return form.template.render(context + code, self.suffix), None

    def stable_head(self, form: CodeFormat) -> str:
        """The start of the rendered prompt up to the cursor's line: what typing on that line keeps.

        The same layout as ``render``, with the code cut at the start of the cursor's
        line and nothing after it, so it is a prefix of every prompt built on this line.
        """
        line_start = self.prefix.rfind("\n") + 1
        cut = PromptPieces(
            self.repo, self.path, self.snippets, self.snippet_tokens, self.header, self.prefix[:line_start]
        )
        text, _ = cut.render(form)
        if form.template.fills_middle and not form.suffix_field:
            # It ends in the template's suffix marker, an empty suffix and the middle marker.
            text = text[: len(text) - len(form.template.suffix) - len(form.template.middle)]
        return text

    def describe(self) -> list[dict[str, Any]]:
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


def file_line(path: str, form: CodeFormat) -> str:
    """What introduces a file: the model's file separator, or a path comment."""
    if form.repo is not None:
        return f"{form.repo.file}{path}\n"
    return f"{form.comment} {path}\n"


def render_snippet(snippet: ContextSnippet, form: CodeFormat) -> str:
    text = snippet.text.rstrip("\n")
    if form.repo is not None:
        return f"{file_line(snippet.path, form)}{text}\n"
    return f"{file_line(snippet.path, form)}{text}\n\n"


class SnippetLayout:
    """Fits snippets to a token budget, keeping each document's previous order."""

    def __init__(self) -> None:
        self._previous: OrderedDict[str, list[ContextSnippet]] = OrderedDict()
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
        form: CodeFormat,
        keep_previous: bool = False,
    ) -> tuple[list[ContextSnippet], list[int]]:
        """Snippets within ``budget``; ``keep_previous``: retrieval was cut short, keep the last choice."""
        previous = self._previous.get(uri, [])
        rank = {snippet.key: i for i, snippet in enumerate(previous)}
        if keep_previous:
            found = {snippet.key for snippet in candidates}
            candidates = candidates + [s for s in previous if s.key not in found]
        ordered = sorted(candidates, key=lambda s: -(s.score * (STICKY_BONUS if s.key in rank else 1.0)))
        chosen: list[tuple[ContextSnippet, int]] = []
        used = 0
        for snippet in ordered:
            cost = self.count(render_snippet(snippet, form), tokens)
            if used + cost > budget:
                continue  # a smaller one further down may still fit
            chosen.append((snippet, cost))
            used += cost
        # Stable order: what was there before keeps its place; newcomers go after it.
        chosen.sort(key=lambda item: rank.get(item[0].key, len(rank)))
        self._previous[uri] = [s for s, _ in chosen]
        self._previous.move_to_end(uri)
        if len(self._previous) > REMEMBERED_DOCUMENTS:
            self._previous.popitem(last=False)
        return [s for s, _ in chosen], [cost for _, cost in chosen]

    def knows(self, uri: str) -> bool:
        """Has a prompt for this document chosen its snippets before?"""
        return uri in self._previous

    def forget(self, uri: str) -> None:
        self._previous.pop(uri, None)
