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

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aicockpit.config import NextEditConfig
from aicockpit.context.documents import DocumentStore, TextDocument, UnknownDocument, uri_to_path
from aicockpit.context.positions import Position
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.edit.diff import TextEdit, minimal_edits
from aicockpit.engine.base import Engine, EngineUnavailable
from aicockpit.engine.collect import generate_text
from aicockpit.lanes import Lanes, Ticket
from aicockpit.next_edit.guards import outside, undoes
from aicockpit.next_edit.structural.changes import ChangeLog
from aicockpit.next_edit.structural.finder import KINDS, StructuralFinder
from aicockpit.prompt.next_edit import EditWindow, NextEditRequest, choose_format, parse_region, stable_head
from aicockpit.telemetry import Telemetry

log = logging.getLogger(__name__)

LANE = "next_edit"


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
        telemetry: Telemetry,
        lanes: Lanes | None = None,
    ) -> None:
        self._documents = documents
        self._index = index
        self._engine = engine
        self._settings = settings
        self._is_secret = is_secret
        self._lanes = lanes or Lanes()
        self.latest: dict[str, NextEditSuggestion] = {}
        self._stats = telemetry.next_edit
        self._stats.track((*KINDS, "model"))
        self.changes = ChangeLog()
        documents.change_listeners.append(self.changes.record)
        self.structural = StructuralFinder(self.changes, self._imports)

    async def suggest(self, uri: str, position: Position) -> NextEditSuggestion | None:
        config = self._settings()
        self._stats.counts["requests"] += 1
        if not config.enabled:
            self._outcome("disabled")
            return None
        try:
            doc = self._documents.get(uri)
        except UnknownDocument:
            self._outcome("unknown_document")
            return None
        if self._is_secret(doc):
            self._outcome("secret_file")
            return None
        # 1. Supersede and settle: the newest request of a document is the only one answered
        # (editors ask at every change; the server waits for the edits to settle, no editor timer).
        ticket = self._lanes.take(uri, LANE)
        try:
            if not await self._lanes.settle(ticket, config.debounce_ms / 1000):
                self._outcome("superseded")
                return None
            return await self._suggest(doc, position, config, ticket)
        finally:
            self._lanes.release(ticket)

    async def _suggest(
        self, doc: TextDocument, position: Position, config: NextEditConfig, ticket: Ticket
    ) -> NextEditSuggestion | None:
        uri = doc.uri
        # 2. A structural edit needs no model: it reads the text as it is now.
        structural = self.structural_now(doc, position, config)
        if structural is not None:
            self._stats.decisions["structural_found"] += 1  # the model is not asked: exact, and instant
            return structural
        started = time.perf_counter()
        version = doc.version
        engine = self._engine()
        window = self.window(doc, position, config)
        request = self._request(window, config).build(engine)
        # 3. Generate; a newer request of the document aborts it.
        generated = await self._lanes.unless_superseded(
            ticket, generate_text(engine, request), "next-edit generation"
        )
        if generated is None:
            self._outcome("superseded")
            return None
        self._stats.counts["prompt_tokens"] += generated.prompt_tokens
        self._stats.counts["generated_tokens"] += generated.completion_tokens
        # 5. Never an answer for a text that changed meanwhile.
        if uri not in self._documents or doc.version != version:
            self._outcome("stale")
            return None
        # The end marker is a stop string: an answer that stopped there is complete, one cut
        # off by max_tokens is not (applied, it would delete what it lost).
        region = parse_region(generated.text, window.region, ended=generated.finish_reason == "stop")
        if region is None or region == window.region:
            self._outcome("no_edit")
            return None
        base = doc.lines.starts[window.first_line]
        edits = minimal_edits(window.region, region, base)
        # 6. Never shown: an edit outside the region it was given, or one undoing the user's edit.
        if outside(edits, base, base + len(window.region)):
            self._stats.decisions["model_outside_region"] += 1
            self._outcome("dropped")
            return None
        spans = self.changes.spans(uri)
        if undoes(doc.text, edits, spans[-1] if spans else None):
            self._stats.decisions["model_undoes_last_edit"] += 1
            self._outcome("dropped")
            return None
        suggestion = NextEditSuggestion(
            f"ne-{uuid.uuid4().hex[:12]}",
            uri,
            version,
            edits,
            choose_format(config.format, engine.model_name),
            generated.prompt_tokens,
            generated.completion_tokens,
            round((time.perf_counter() - started) * 1000, 1),
        )
        self._stats.latencies.append(suggestion.elapsed_ms)
        return self._suggested(suggestion)

    def stable_head(self, uri: str, position: Position) -> tuple[Engine, str] | None:
        """The next edit's prompt at ``position`` up to the cursor's excerpt (its instruction and
        the recent edits), with the embedded engine it is for: what pre-warming prefills."""
        config = self._settings()
        if not config.enabled or uri not in self._documents:
            return None
        doc = self._documents.get(uri)
        try:
            engine = self._engine()
        except EngineUnavailable:
            return None
        if self._is_secret(doc) or not getattr(engine, "embedded", False):
            return None
        request = self._request(self.window(doc, position, config), config).build(engine)
        head = stable_head(request.prompt)
        return (engine, head) if head else None

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
        self._stats.structural_latencies.append(elapsed)
        if found is None:
            self._stats.decisions[f"structural_{why}"] += 1
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
        self._stats.counts["suggested"] += 1
        self._stats.by_source[suggestion.source]["suggested"] += 1
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
                self._stats.counts[outcome] += 1
                self._stats.by_source[suggestion.source][outcome] += 1
                del self.latest[uri]
                return True
        return False

    def shown(self, suggestion_id: str) -> bool:
        """The editor says it shows a suggestion (textDocument/didShowInlineEdit)."""
        for suggestion in self.latest.values():
            if suggestion.id == suggestion_id:
                self._stats.by_source[suggestion.source]["shown"] += 1
                return True
        return False

    def forget(self, uri: str) -> None:
        self.latest.pop(uri, None)
        self.changes.forget(uri)
        self._lanes.forget(uri, LANE)

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

    def _request(self, window: EditWindow, config: NextEditConfig) -> NextEditRequest:
        hunks = []
        for hunk in self._documents.history.hunks():
            path = self._index.display_path(uri_to_path(hunk.uri), hunk.uri)
            if path is not None:  # a secrets file's edits are never shown to a model
                hunks.append((hunk, path))
        return NextEditRequest(
            config.format,
            tuple(hunks),
            window,
            f"next-{uuid.uuid4().hex[:12]}",
            config.history_tokens,
            config.max_tokens,
            config.temperature,
        )

    def _outcome(self, outcome: str) -> None:
        """Count why a request ends without a suggestion."""
        self._stats.counts[outcome] += 1
