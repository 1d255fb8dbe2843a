"""From a document and a cursor to the one completion prompt that is sent.

``PromptAssembler.build`` is the only builder of completion prompts: ghost text,
the completion fallback, prefetch, warm-up, ``aicockpit complete``, ``aicockpit
context`` and the ``aicockpit/context`` request all call it, with the engine that
will answer (its tokenizer and ``PromptFormat``). It returns a ``CompletionPrompt``:
the exact prompt text (and suffix field), the stop strings, and what it was made of.
Engines send it unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aicockpit.config import AicockpitConfig
from aicockpit.context.documents import DocumentStore, TextDocument
from aicockpit.context.languages import for_document
from aicockpit.context.retrieve import ContextSnippet, CursorQuery, Retriever, dedupe
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.generation import EngineSpeed, GenerationRequest, Priority, PromptFormat, TokenCounter
from aicockpit.prompt.budget import FIXED, BudgetPlanner, Budgets
from aicockpit.prompt.fim import FimTemplate, detect_template, fim_window
from aicockpit.prompt.layout import CodeFormat, PromptPieces, RepoFormat, SnippetLayout, repo_format_for
from aicockpit.prompt.requests import completion_stops, engine_request
from aicockpit.prompt.tokens import LineCachedCounter

log = logging.getLogger(__name__)

HEADER_MAX_LINES = 40
UNHURRIED = 10  # times the retrieval time box, for prompts built in the background
# Times the time box for a document's first prompt: its caches are cold, and a context cut
# short there would differ from the next prompt's, which the prefix cache would then miss.
FIRST_BUILD = 3
RELATED_DEFINITIONS = 6  # for an edit or a chat selection; the conversation's budget may keep fewer
_DEFINITION_WORDS = ("function", "class", "method", "decorated", "impl", "struct", "type_", "interface")


class PromptTarget(Protocol):
    """The engine a prompt is for (any ``Engine``, or a tokenizer and format without one).

    A target that also has ``speed`` (an ``EngineSpeed``: the router's role engines) gets
    budgets sized to it.
    """

    @property
    def tokenizer(self) -> TokenCounter: ...

    @property
    def prompt_format(self) -> PromptFormat: ...


def speed_of(target: object) -> EngineSpeed | None:
    return getattr(target, "speed", None)


@dataclass(frozen=True)
class CompletionPrompt:
    """One completion request's prompt, exactly as the engine sends it."""

    text: str  # the prompt (with FIM and repository tokens, as the model takes them)
    suffix: str | None  # the API's suffix field (suffix-field backends); None: not sent apart
    stop: tuple[str, ...]
    template: str
    pieces: PromptPieces  # what it is made of: snippets, header, prefix, the document's suffix
    budgets: Budgets  # what it was sized to (max_tokens included)
    tokens: int  # about how many tokens ``text`` is (counted per line)
    # The start of ``text`` that any keystroke on the cursor's line leaves as it is:
    # what pre-warming fills the prefix cache with.
    stable: str

    def describe(self) -> list[dict[str, Any]]:
        return self.pieces.describe()


def describe_prompt(prompt: CompletionPrompt, backend: str) -> dict[str, Any]:
    """What ``aicockpit context`` and ``aicockpit/context`` show: the exact fields sent, and their parts."""
    return {
        "backend": backend,
        "template": prompt.template,
        "snippets": prompt.describe(),
        "prompt": prompt.text,
        "suffix": prompt.suffix,
        "stop": list(prompt.stop),
        "budgets": dataclasses.asdict(prompt.budgets),
    }


class PromptAssembler:
    def __init__(
        self,
        documents: DocumentStore,
        index: WorkspaceIndex,
        settings: Callable[[], AicockpitConfig],
    ) -> None:
        self.documents = documents
        self.index = index
        self.retriever = Retriever(documents, index)
        self.layout = SnippetLayout()
        self.budgets = BudgetPlanner()
        self._settings = settings
        self._cached: LineCachedCounter | None = None
        self._templates: dict[tuple[int, PromptFormat], tuple[FimTemplate, RepoFormat | None]] = {}

    def build(
        self,
        doc: TextDocument,
        offset: int,
        target: PromptTarget,
        stops: Sequence[str] = (),
        unhurried: bool = False,
    ) -> CompletionPrompt | None:
        """The prompt for a completion at ``offset``; None when the document must never reach a model.

        ``stops`` come first in the stop list (the post-processing's, for where the
        cursor is), then the template's, up to what the API accepts. ``unhurried``
        (pre-warming, in the background): retrieval gets ``UNHURRIED`` times its time
        box, so that it finds what an unloaded machine would, and the completions that
        follow (with warm caches) choose the same context.
        """
        if self.index.is_secret(doc.path, doc.uri):
            return None
        config = self._settings()
        tokens = self.counter(target.tokenizer)
        form = self.code_format(target, doc)
        display = self.index.display_path(doc.path, doc.uri) or os.path.basename(doc.uri)
        pieces = PromptPieces(repo=self._repo_name(doc), path=display)
        framing = self.layout.count(pieces.render(form)[0], tokens)
        budgets = self.plan(target, framing, form)
        text = doc.text
        # The suffix window is cut even when it is not sent: post-processing stops a
        # suggestion before code that already follows.
        unsent = config.completion.suffix_tokens
        suffix_window = budgets.suffix if form.sends_suffix else FIXED.suffix if unsent is None else unsent
        pieces.prefix, pieces.suffix = fim_window(
            text, offset, tokens, budgets.prefix, suffix_window, doc.lines.starts
        )
        line = doc.lines.position(offset).line
        first_line = line - pieces.prefix.count("\n")
        last_line = line + pieces.suffix.count("\n")
        if first_line > 0 and budgets.header > 0:
            pieces.header = self._header(doc, first_line, tokens, budgets.header)
        if budgets.context > 0:
            window = (first_line, last_line)
            self._add_context(pieces, doc, offset, line, window, tokens, form, budgets, unhurried)
        prompt, suffix = pieces.render(form)
        stop = tuple(dict.fromkeys([*stops, *form.template.stop]))[: form.max_stops]
        # About the prompt's size (per-line counts, cached), for the deadline's prediction.
        size = framing + sum(pieces.snippet_tokens) + tokens.count(pieces.header + pieces.prefix)
        if form.sends_suffix:
            size += tokens.count(pieces.suffix)
        stable = pieces.stable_head(form)
        return CompletionPrompt(prompt, suffix, stop, form.template.name, pieces, budgets, size, stable)

    def plan(self, target: PromptTarget, framing: int, form: CodeFormat) -> Budgets:
        """The budgets of a prompt for ``target``: the settings, else sized to its measured speed."""
        return self.budgets.plan(
            self._settings(),
            speed_of(target),
            target.prompt_format.context_length,
            framing,
            form.sends_suffix,
            form.template.fills_middle,
        )

    def code_format(self, target: PromptTarget, doc: TextDocument) -> CodeFormat:
        """The layout for ``target``: its template and repository tokens (detected once per tokenizer)."""
        template, repo = self._template(target)
        spec = for_document(doc.language_id, doc.uri)
        prompt_format = target.prompt_format
        return CodeFormat(
            template,
            repo,
            spec.comment if spec else "#",
            prompt_format.suffix_field,
            prompt_format.max_stops,
        )

    def _template(self, target: PromptTarget) -> tuple[FimTemplate, RepoFormat | None]:
        prompt_format = target.prompt_format
        key = (id(target.tokenizer), prompt_format)
        found = self._templates.get(key)
        if found is None:
            specials = target.tokenizer.special_tokens()
            template = detect_template(specials, prompt_format.template)
            found = (template, repo_format_for(template, specials, prompt_format.suffix_field))
            if len(self._templates) > 16:  # engines come and go with profile switches
                self._templates.clear()
            self._templates[key] = found
        return found

    def budgets_for(self, target: PromptTarget) -> Budgets:
        """What a completion prompt for ``target`` gets now (before its framing), for stats."""
        template, _ = self._template(target)
        sends_suffix = target.prompt_format.suffix_field or template.fills_middle
        return self.budgets.plan(
            self._settings(),
            speed_of(target),
            target.prompt_format.context_length,
            0,
            sends_suffix,
            template.fills_middle,
        )

    def related_definitions(self, doc: TextDocument, first: int, last: int) -> list[ContextSnippet]:
        """Definitions from elsewhere that lines ``first``-``last`` use, best first (edits and chat)."""
        context = self._settings().context
        if not (context.enabled and context.definitions) or self.index.is_secret(doc.path, doc.uri):
            return []
        lines = doc.lines
        first = min(max(first, 0), lines.line_count - 1)
        last = min(max(last, first), lines.line_count - 1)
        middle = (first + last) // 2
        display = self.index.display_path(doc.path, doc.uri) or os.path.basename(doc.uri)
        query = CursorQuery(doc, display, lines.starts[middle], middle, (first, last))
        try:
            found = self.retriever.definitions(query, time.perf_counter() + context.time_budget_ms / 1000)
        except Exception:  # context must never cost the edit or the answer itself
            log.exception("context retrieval failed")
            return []
        return dedupe(found)[:RELATED_DEFINITIONS]

    def _add_context(
        self,
        pieces: PromptPieces,
        doc: TextDocument,
        offset: int,
        line: int,
        window: tuple[int, int],
        tokens: TokenCounter,
        form: CodeFormat,
        budgets: Budgets,
        unhurried: bool = False,
    ) -> None:
        context = self._settings().context
        query = CursorQuery(doc, pieces.path, offset, line, window)
        factor = UNHURRIED if unhurried else 1 if self.layout.knows(doc.uri) else FIRST_BUILD
        try:
            candidates = self.retriever.candidates(
                query,
                context.time_budget_ms / 1000 * factor,
                context.definitions,
                context.similar_code,
                context.recent_edits,
            )
        except Exception:  # retrieval must never cost the completion itself
            log.exception("context retrieval failed")
            candidates = []
        pieces.snippets, pieces.snippet_tokens = self.layout.fit(
            doc.uri, candidates, budgets.context, tokens, form, keep_previous=self.retriever.cut_short
        )

    def counter(self, tokens: TokenCounter) -> LineCachedCounter:
        if isinstance(tokens, LineCachedCounter):
            return tokens
        if self._cached is None or self._cached.tokens is not tokens:
            self._cached = LineCachedCounter(tokens)  # a new engine brings a new tokenizer
        return self._cached

    def _header(self, doc: TextDocument, first_line: int, tokens: TokenCounter, budget: int) -> str:
        """The top of the file up to its first definition (imports, module constants)."""
        lines = doc.lines
        end_line = min(first_line, HEADER_MAX_LINES, lines.line_count)
        syntax = doc.syntax
        if syntax is not None:
            for child in syntax.tree.root_node.children:
                if any(word in child.type for word in _DEFINITION_WORDS):
                    end_line = min(end_line, child.start_point.row)
                    break
        if end_line <= 0:
            return ""
        header = doc.text[: lines.starts[end_line]]
        while header and tokens.count(header) > budget:
            header = header[: header.rstrip("\n").rfind("\n") + 1]
        return header

    def _repo_name(self, doc: TextDocument) -> str:
        found = self.index.folder_of(doc.path)
        return found[0].root.name if found else "workspace"

    def forget(self, uri: str) -> None:
        self.layout.forget(uri)


@dataclass(frozen=True)
class CompletionRequest:
    """Builds a completion's engine request for a backend, around the one prompt ``build`` makes.

    The request carries it: a fallback backend with another model or API gets a prompt of its
    own from the same document and cursor (the document may have moved on: the scheduler
    discards answers to old text anyway).
    """

    assembler: PromptAssembler
    doc: TextDocument
    offset: int
    multiline: bool
    request_id: str
    temperature: float
    max_tokens: int | None = None  # None: the budget's
    unhurried: bool = False
    priority: Priority = Priority.COMPLETION

    def prompt(self, target: PromptTarget) -> CompletionPrompt | None:
        """None for a secrets file."""
        stops = completion_stops(self.multiline)
        return self.assembler.build(self.doc, self.offset, target, stops, self.unhurried)

    def request(self, prompt: CompletionPrompt, target: PromptTarget) -> GenerationRequest:
        return engine_request(
            target,
            request_id=self.request_id,
            priority=self.priority,
            max_tokens=self.max_tokens or prompt.budgets.max_tokens,
            temperature=self.temperature,
            text=prompt.text,
            suffix=prompt.suffix,
            stop=prompt.stop,
            builder=self,
        )

    def build(self, target: PromptTarget) -> GenerationRequest:
        prompt = self.prompt(target)
        if prompt is None:
            raise RuntimeError("the document became a secrets file")
        return self.request(prompt, target)
