"""Next-edit suggestions: a structural edit when the code's structure shows one (a rename's
next use, a repeated edit's next site: next_edit/structural/, no model, milliseconds), else
the model rewrites the region around the cursor and the difference becomes a few small
text edits.

``suggest`` is called per request (``aicockpit/nextEdit``, ``textDocument/copilotInlineEdit``;
editors ask after each edit settles): a newer request for the same document supersedes an
older one (it is answered empty and its generation is aborted), a short debounce lets a
burst collapse into one generation, and an answer computed for a text that has changed
since is never returned. A structural edit wins over the model's: the model is not asked
(``decisions.structural_found`` in stats). A model's edit that would undo the user's last
change or reach outside its region is dropped. The latest suggestion per document stays
available to inline completion and code actions while its document is unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from aicockpit.background import spawn
from aicockpit.config import NextEditConfig
from aicockpit.context.documents import DocumentStore, TextDocument, UnknownDocument, uri_to_path
from aicockpit.context.positions import Position
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.edit.diff import TextEdit, minimal_edits
from aicockpit.engine.base import Engine
from aicockpit.engine.collect import generate_text
from aicockpit.generation import GenerationRequest, Priority
from aicockpit.next_edit.guards import outside, undoes
from aicockpit.next_edit.structural.changes import ChangeLog
from aicockpit.next_edit.structural.finder import KINDS, StructuralFinder
from aicockpit.prompt.chat import chat_request
from aicockpit.prompt.next_edit import (
    REGION_END,
    EditWindow,
    NextEditPrompt,
    build_prompt,
    choose_format,
    history,
    parse_region,
)
from aicockpit.telemetry import percentile

log = logging.getLogger(__name__)

LATENCIES_KEPT = 200


@dataclass(frozen=True)
class NextEditSuggestion:
    id: str
    uri: str
    version: int
    edits: list[TextEdit]  # offsets in the text of ``version``
    format: str  # the prompt format, or "structural"
    prompt_tokens: int
    generated_tokens: int
    elapsed_ms: float
    source: str = "model"  # rename | repeat (structural) | model
    label: str = ""


class NextEditService:
    def __init__(
        self,
        documents: DocumentStore,
        index: WorkspaceIndex,
        engine: Callable[[], Engine],
        settings: Callable[[], NextEditConfig],
        is_secret: Callable[[TextDocument], bool],
    ) -> None:
        self._documents = documents
        self._index = index
        self._engine = engine
        self._settings = settings
        self._is_secret = is_secret
        self._latest_request: dict[str, object] = {}
        self._flights: dict[str, asyncio.Task] = {}
        self.latest: dict[str, NextEditSuggestion] = {}
        self.counts: Counter[str] = Counter()
        self._latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)
        self._structural_latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)
        self.by_source: dict[str, Counter[str]] = {kind: Counter() for kind in (*KINDS, "model")}
        self.decisions: Counter[str] = Counter()
        self.changes = ChangeLog()
        documents.change_listeners.append(self.changes.record)
        self.structural = StructuralFinder(self.changes, self._imports)

    async def suggest(self, uri: str, position: Position) -> NextEditSuggestion | None:
        config = self._settings()
        self.counts["requests"] += 1
        if not config.enabled:
            return self._outcome("disabled")
        try:
            doc = self._documents.get(uri)
        except UnknownDocument:
            return self._outcome("unknown_document")
        if self._is_secret(doc):
            return self._outcome("secret_file")
        # 1. Supersede: the newest request of a document is the only one that generates.
        ticket = object()
        self._latest_request[uri] = ticket
        previous = self._flights.pop(uri, None)
        if previous is not None:
            previous.cancel()
        # 2. A structural edit needs no model and no debounce: it reads the text as it is now.
        structural = self.structural_now(doc, position, config)
        if structural is not None:
            self.decisions["structural_found"] += 1  # the model is not asked: exact, and instant
            return structural
        # 3. Debounce: a burst of edits asks once.
        await asyncio.sleep(config.debounce_ms / 1000)
        if self._latest_request.get(uri) is not ticket:
            return self._outcome("superseded")
        started = time.perf_counter()
        version = doc.version
        engine = self._engine()
        window = self.window(doc, position, config)
        prompt = self._prompt(engine, window, config)
        request = self._request(engine, prompt, window, config)
        # 4. Generate in a task of its own, so that a newer request can abort it.
        flight = spawn(generate_text(engine, request), name="next-edit generation", awaited=True)
        self._flights[uri] = flight
        try:
            generated = await flight
        except asyncio.CancelledError:
            flight.cancel()  # closing the stream aborts the request inside the engine
            # A newer request cancelled the flight, not this request: answer it. A
            # cancellation of this request itself (the client, shutdown) goes on up.
            if asyncio.current_task().cancelling() == 0 and self._latest_request.get(uri) is not ticket:
                return self._outcome("superseded")
            raise
        finally:
            if self._flights.get(uri) is flight:
                del self._flights[uri]
        self.counts["prompt_tokens"] += generated.prompt_tokens
        self.counts["generated_tokens"] += generated.completion_tokens
        # 5. Never an answer for a text that changed meanwhile.
        if uri not in self._documents or doc.version != version:
            return self._outcome("stale")
        # The end marker is a stop string: an answer that stopped there is complete, one cut
        # off by max_tokens is not (applied, it would delete what it lost).
        region = parse_region(generated.text, window.region, ended=generated.finish_reason == "stop")
        if region is None or region == window.region:
            return self._outcome("no_edit")
        base = doc.lines.starts[window.first_line]
        edits = minimal_edits(window.region, region, base)
        # 6. Never shown: an edit outside the region it was given, or one undoing the user's edit.
        if outside(edits, base, base + len(window.region)):
            self.decisions["model_outside_region"] += 1
            return self._outcome("dropped")
        spans = self.changes.spans(uri)
        if undoes(doc.text, edits, spans[-1] if spans else None):
            self.decisions["model_undoes_last_edit"] += 1
            return self._outcome("dropped")
        suggestion = NextEditSuggestion(
            f"ne-{uuid.uuid4().hex[:12]}",
            uri,
            version,
            edits,
            prompt.format,
            generated.prompt_tokens,
            generated.completion_tokens,
            round((time.perf_counter() - started) * 1000, 1),
        )
        self._latencies.append(suggestion.elapsed_ms)
        return self._suggested(suggestion)

    def structural_now(
        self, doc: TextDocument, position: Position, config: NextEditConfig | None = None
    ) -> NextEditSuggestion | None:
        """A structural edit for ``doc`` as it is now, or None (the reason is counted)."""
        config = config or self._settings()
        if not config.structural or not config.enabled or self._is_secret(doc):
            return None
        started = time.perf_counter()
        lines = doc.lines
        cursor = lines.offset(lines.clamp(position))
        others = [d for d in self._documents.all() if d.uri != doc.uri and not self._is_secret(d)]
        try:
            found, why = self.structural.suggest(doc, cursor, others)
        except Exception:  # a finder's bug must not cost the user the model's suggestion
            log.exception("structural next edit failed")
            found, why = None, "error"
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        self._structural_latencies.append(elapsed)
        if found is None:
            self.decisions[f"structural_{why}"] += 1
            return None
        suggestion = NextEditSuggestion(
            f"ne-{uuid.uuid4().hex[:12]}", doc.uri, doc.version, found.edits, "structural", 0, 0, elapsed,
            source=found.kind, label=found.label,
        )  # fmt: skip
        return self._suggested(suggestion)

    def available(self, uri: str, position: Position) -> NextEditSuggestion | None:
        """The current suggestion, or a structural one computed now (it costs milliseconds), for
        features that show one without asking first (code actions)."""
        current = self.current(uri)
        if current is not None or uri not in self._documents:
            return current
        return self.structural_now(self._documents.get(uri), position)

    def _suggested(self, suggestion: NextEditSuggestion) -> NextEditSuggestion:
        self.latest[suggestion.uri] = suggestion
        self.counts["suggested"] += 1
        self.by_source[suggestion.source]["suggested"] += 1
        return suggestion

    def _imports(self, doc: TextDocument, other: TextDocument) -> bool:
        """Does ``doc`` import ``other`` (by the project index)?"""
        target = self._index.display_path(other.path, other.uri)
        return target is not None and target in self._index.imports_of(doc.path)

    def current(self, uri: str) -> NextEditSuggestion | None:
        """The latest suggestion for ``uri`` if its document has not changed since."""
        suggestion = self.latest.get(uri)
        if suggestion is None or uri not in self._documents:
            return None
        # A stale one stays in ``latest`` until replaced: an editor takes it down on the change
        # and says so after it (feedback), when code actions may already have asked here.
        return suggestion if self._documents.get(uri).version == suggestion.version else None

    def feedback(self, suggestion_id: str, accepted: bool) -> bool:
        """The editor showed a suggestion and the user took it or dismissed it."""
        for uri, suggestion in list(self.latest.items()):
            if suggestion.id == suggestion_id:
                outcome = "accepted" if accepted else "rejected"
                self.counts[outcome] += 1
                self.by_source[suggestion.source][outcome] += 1
                del self.latest[uri]
                return True
        return False

    def shown(self, suggestion_id: str) -> bool:
        """The editor says it shows a suggestion (textDocument/didShowInlineEdit)."""
        for suggestion in self.latest.values():
            if suggestion.id == suggestion_id:
                self.by_source[suggestion.source]["shown"] += 1
                return True
        return False

    def forget(self, uri: str) -> None:
        self.latest.pop(uri, None)
        self.changes.forget(uri)
        self._latest_request.pop(uri, None)
        flight = self._flights.pop(uri, None)
        if flight is not None:
            flight.cancel()

    def stats(self) -> dict:
        latencies = sorted(self._latencies)
        structural = list(self._structural_latencies)
        return {
            **dict(self.counts),
            "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "by_source": {source: dict(counts) for source, counts in self.by_source.items()},
            # Why a suggestion came from where it did: structural_found (the model was not
            # asked), structural_none / structural_rename_collision / ... (the model was),
            # model_undoes_last_edit and model_outside_region (the model's was dropped).
            "decisions": dict(self.decisions),
            "structural_latency_ms": {
                f"p{q}": round(percentile(structural, q), 2) if structural else None for q in (50, 99)
            },
        }

    # -- the prompt ------------------------------------------------------------------------

    def window(self, doc: TextDocument, position: Position, config: NextEditConfig) -> EditWindow:
        lines = doc.lines
        position = lines.clamp(position)
        cursor_line = min(position.line, lines.line_count - 1)
        first = max(0, cursor_line - config.region_lines)
        last = min(lines.line_count - 1, cursor_line + config.region_lines)
        top = max(0, first - config.context_lines)
        bottom = min(lines.line_count - 1, last + config.context_lines)

        def start(line: int) -> int:
            return lines.starts[line] if line < lines.line_count else len(doc.text)

        text = doc.text
        region_start, region_end = start(first), start(last + 1)
        return EditWindow(
            path=self._index.display_path(doc.path, doc.uri) or doc.uri.rsplit("/", 1)[-1],
            before=text[start(top) : region_start],
            region=text[region_start:region_end],
            cursor=lines.offset(position) - region_start,
            after=text[region_end : start(bottom + 1)],
            at_file_start=top == 0,
            first_line=first,
        )

    def _prompt(self, engine: Engine, window: EditWindow, config: NextEditConfig) -> NextEditPrompt:
        hunks = []
        for hunk in self._documents.history.hunks():
            path = self._index.display_path(uri_to_path(hunk.uri), hunk.uri)
            if path is not None:  # a secrets file's edits are never shown to a model
                hunks.append((hunk, path))
        edits = history(hunks, engine.tokenizer, config.history_tokens)
        return build_prompt(choose_format(config.format, engine.model_name), edits, window)

    def _request(
        self, engine: Engine, prompt: NextEditPrompt, window: EditWindow, config: NextEditConfig
    ) -> GenerationRequest:
        # Room to write the region again, with some growth; never more than configured.
        max_tokens = min(config.max_tokens, 2 * engine.tokenizer.count(window.region) + 64)
        fields = {
            "request_id": f"next-{uuid.uuid4().hex[:12]}",
            "max_tokens": max_tokens,
            "temperature": config.temperature,
            "stop": (REGION_END, *prompt.stop),
            "priority": Priority.NEXT_EDIT,
        }
        if prompt.messages is not None:
            return chat_request(engine, prompt.messages, **fields)
        return GenerationRequest(prompt=prompt.text, target=engine, **fields)

    def _outcome(self, outcome: str) -> None:
        """Count why a request ends without a suggestion."""
        self.counts[outcome] += 1
        return None
