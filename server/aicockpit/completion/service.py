"""One completion, from document and cursor to suggestion text.

Editor requests reach it through ``CompletionScheduler`` (scheduler.py), which
uses its steps one by one: ``locate`` (cheap snapshot of the cursor),
``prepare`` (the engine request, around the one prompt ``PromptAssembler.build``
makes) and ``shape`` (post-processing). ``complete`` runs them all at once for
``aicockpit complete``. Never raises for a missing document or engine: the
answer is simply ``None``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass

from aicockpit.completion.postprocess import CursorShape, shape_suggestion, stop_strings
from aicockpit.completion.syntax_rules import check_insertion, syntax_cursor_shape
from aicockpit.config import CompletionConfig
from aicockpit.context.documents import DocumentStore, TextDocument, UnknownDocument
from aicockpit.context.positions import Position
from aicockpit.engine.base import Engine, EngineSource, EngineUnavailable
from aicockpit.generation import GenerationRequest, Priority
from aicockpit.prompt.assemble import CompletionPrompt, PromptAssembler, PromptTarget, speed_of
from aicockpit.telemetry import RequestTrace, Telemetry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestion:
    """Text to insert at ``position`` (UTF-16, clamped to the document)."""

    text: str
    position: Position
    version: int
    trace: RequestTrace


@dataclass(frozen=True)
class Cursor:
    """A snapshot of one document at one cursor position (text is immutable, so no copy)."""

    uri: str
    language_id: str
    version: int
    text: str
    offset: int
    position: Position
    shape: CursorShape
    doc: TextDocument  # for the syntax tree; ``version`` says whether it still matches ``text``


@dataclass(frozen=True)
class PreparedCompletion:
    """Everything needed to generate for a cursor, and to post-process the result."""

    cursor: Cursor
    prompt: CompletionPrompt
    request: GenerationRequest
    config: CompletionConfig

    @property
    def suffix(self) -> str:
        """The document's code after the cursor (the window), whether the prompt holds it or not."""
        return self.prompt.pieces.suffix

    @property
    def context(self) -> list[dict]:
        """The repository snippets in the prompt, for the trace."""
        return self.prompt.describe()


class CompletionService:
    def __init__(
        self,
        documents: DocumentStore,
        host: EngineSource,
        telemetry: Telemetry,
        settings: Callable[[], CompletionConfig],
        assembler: PromptAssembler,
    ) -> None:
        self._assembler = assembler
        self._documents = documents
        self._host = host
        self._telemetry = telemetry
        self._settings = settings

    async def complete(self, uri: str, position: Position) -> Suggestion | None:
        trace = self._telemetry.start("completion")
        try:
            suggestion, outcome = await self._complete(uri, position, trace)
        except asyncio.CancelledError:
            self._telemetry.finish(trace, "cancelled")
            raise
        except Exception:
            log.exception("completion failed")
            self._telemetry.finish(trace, "error")
            return None
        self._telemetry.finish(trace, outcome)
        return suggestion

    async def _complete(
        self, uri: str, position: Position, trace: RequestTrace
    ) -> tuple[Suggestion | None, str]:
        cursor, outcome = self.locate(uri, position)
        if cursor is None:
            return None, outcome
        try:
            engine = self._host.engine
        except EngineUnavailable:
            return None, "engine_unavailable"
        prepared = self.prepare(cursor, engine)
        if prepared is None:
            return None, "secret_file"
        trace.context = prepared.context
        trace.mark("context_built")
        raw, outcome, truncated = await self._generate(
            engine, prepared.request, trace, self.deadline_ms(prepared) / 1000
        )
        suggestion = self.shape(raw, prepared, truncated)
        trace.mark("post_processed")
        if not suggestion.strip():
            return None, "empty" if outcome == "served" else outcome
        return Suggestion(suggestion, cursor.position, cursor.version, trace), outcome

    def locate(self, uri: str, position: Position) -> tuple[Cursor | None, str]:
        """The document's text and the clamped cursor, cheap (no tokenizing): or why there is none."""
        config = self._settings()
        if not config.enabled:
            return None, "disabled"
        try:
            doc = self._documents.get(uri)
        except UnknownDocument:
            return None, "unknown_document"
        lines = doc.lines
        if position.line >= lines.line_count or position.line < 0:
            return None, "out_of_range"  # the client is ahead of or behind this text
        position = lines.clamp(position)
        offset = lines.offset(position)
        shape = syntax_cursor_shape(doc, offset, config.multiline)
        return Cursor(uri, doc.language_id, doc.version, doc.text, offset, position, shape, doc), "ok"

    def prepare(
        self, cursor: Cursor, engine: PromptTarget, unhurried: bool = False
    ) -> PreparedCompletion | None:
        """The engine request for ``cursor``, its prompt built for ``engine``; None in a secrets file.

        ``unhurried``: built in the background (pre-warming), retrieval may take its time.
        """
        request_id = f"cmpl-{uuid.uuid4().hex[:12]}"
        return self._prepare(cursor, engine, self._settings(), request_id, unhurried)

    def _prepare(
        self,
        cursor: Cursor,
        engine: PromptTarget,
        config: CompletionConfig,
        request_id: str,
        unhurried: bool = False,
    ) -> PreparedCompletion | None:
        stops = stop_strings(cursor.shape)
        prompt = self._assembler.build(cursor.doc, cursor.offset, engine, stops, unhurried)
        if prompt is None:
            return None  # a secrets file: never sent to a model

        def rebuild(other: Engine) -> GenerationRequest:
            # A fallback backend with another model or API gets a prompt of its own,
            # from the same builder (the document may have moved on: the scheduler
            # discards answers to old text anyway).
            prepared = self._prepare(cursor, other, config, request_id)
            if prepared is None:
                raise RuntimeError("the document became a secrets file")
            return prepared.request

        request = GenerationRequest(
            request_id=request_id,
            prompt=prompt.text,
            suffix=prompt.suffix,
            max_tokens=prompt.budgets.max_tokens,
            temperature=config.temperature,
            stop=prompt.stop,
            priority=Priority.COMPLETION,
            target=engine,
            rebuild=rebuild,
        )
        return PreparedCompletion(cursor, prompt, request, config)

    def deadline_ms(self, prepared: PreparedCompletion, invoked: bool = False) -> float:
        """How long this completion may take: the setting, else enough for its prompt on this machine."""
        return self._assembler.budgets.deadline_ms(
            prepared.config, speed_of(prepared.request.target), prepared.prompt.tokens, invoked
        )

    def line_token_counts(self, text: str, engine: Engine) -> list[int]:
        """Tokens of each line of ``text`` (``text.split("\\n")``), counted as the prompt builder counts."""
        return self._assembler.counter(engine.tokenizer).piece_counts(text.split("\n"))

    def shape(self, raw: str, prepared: PreparedCompletion, truncated: bool = False) -> str:
        """Post-processing: the raw model output cut to fit where the cursor is (``truncated``: cut by
        ``max_tokens``)."""
        cursor = prepared.cursor
        suggestion = shape_suggestion(raw, cursor.shape, prepared.suffix, truncated)
        if cursor.doc.version == cursor.version:  # the tree still matches the text the cursor was in
            suggestion = check_insertion(cursor.doc, cursor.offset, suggestion)
        return suggestion

    async def _generate(
        self, engine: Engine, request: GenerationRequest, trace: RequestTrace, budget_s: float
    ) -> tuple[str, str, bool]:
        """The text, the outcome, and whether ``max_tokens`` cut it."""
        pieces: list[str] = []
        truncated = False
        trace.mark("engine_enqueued")
        try:
            async with asyncio.timeout(budget_s):
                # aclosing: on cancel or timeout the stream is closed at once, which
                # aborts the request inside vLLM instead of letting it run on.
                async with aclosing(engine.generate(request)) as stream:
                    async for delta in stream:
                        if not pieces:
                            trace.mark("first_token")
                        pieces.append(delta.text)
                        truncated = delta.finish_reason == "length"
                        trace.prompt_tokens = delta.prompt_tokens
                        trace.cached_tokens = delta.cached_tokens
                        trace.generated_tokens = delta.generated_tokens
        except TimeoutError:
            trace.mark("last_token")
            return "".join(pieces), "timed_out", truncated
        trace.mark("last_token")
        return "".join(pieces), "served", truncated
