"""One completion, from document and cursor to suggestion text.

Editor requests reach it through ``CompletionScheduler`` (scheduler.py), which
uses its steps one by one: ``locate`` (cheap snapshot of the cursor),
``prepare`` (the engine request; the prompt itself comes from ``build_prompt``
alone) and ``shape`` (post-processing). ``complete`` runs them all at once for
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

from aicockpit.completion.postprocess import CursorShape, cursor_shape, shape_suggestion, stop_strings
from aicockpit.config import CompletionConfig, EngineConfig
from aicockpit.context.documents import DocumentStore, UnknownDocument
from aicockpit.context.positions import Position
from aicockpit.engine.base import Engine, EngineUnavailable, GenerationRequest, Priority
from aicockpit.engine.host import EngineHost
from aicockpit.prompt.fim import FimTemplate, detect_template, fim_window
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


@dataclass(frozen=True)
class PreparedCompletion:
    """Everything needed to generate for a cursor, and to post-process the result."""

    cursor: Cursor
    suffix: str
    request: GenerationRequest
    config: CompletionConfig


class CompletionService:
    def __init__(
        self,
        documents: DocumentStore,
        host: EngineHost,
        telemetry: Telemetry,
        settings: Callable[[], tuple[CompletionConfig, EngineConfig]],
    ) -> None:
        self._documents = documents
        self._host = host
        self._telemetry = telemetry
        self._settings = settings
        self._templates: dict[tuple[int, str], FimTemplate] = {}

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
        trace.mark("context_built")
        raw, outcome = await self._generate(
            engine, prepared.request, trace, prepared.config.timeout_ms / 1000
        )
        suggestion = self.shape(raw, prepared)
        trace.mark("post_processed")
        if not suggestion.strip():
            return None, "empty" if outcome == "served" else outcome
        return Suggestion(suggestion, cursor.position, cursor.version, trace), outcome

    def locate(self, uri: str, position: Position) -> tuple[Cursor | None, str]:
        """The document's text and the clamped cursor, cheap (no tokenizing): or why there is none."""
        config, _ = self._settings()
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
        text = doc.text
        line_end = text.find("\n", offset)
        shape = cursor_shape(
            text[lines.starts[position.line] : offset],
            text[offset : len(text) if line_end < 0 else line_end],
            config.multiline,
        )
        return Cursor(uri, doc.language_id, doc.version, text, offset, position, shape), "ok"

    def prepare(self, cursor: Cursor, engine: Engine) -> PreparedCompletion:
        """The engine request for ``cursor``: prompt, budget and stop strings."""
        config, engine_config = self._settings()
        prompt, before, suffix, template_stop = self.build_prompt(cursor, engine, config, engine_config)
        request = GenerationRequest(
            request_id=f"cmpl-{uuid.uuid4().hex[:12]}",
            prompt=prompt,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            stop=stop_strings(cursor.shape) + template_stop,
            priority=Priority.COMPLETION,
            fim=(before, suffix),  # lets each backend lay out FIM its own way (routing, remote suffix)
        )
        return PreparedCompletion(cursor, suffix, request, config)

    def build_prompt(
        self, cursor: Cursor, engine: Engine, config: CompletionConfig, engine_config: EngineConfig
    ) -> tuple[str, str, str, tuple[str, ...]]:
        """Prompt building, in one place: (prompt, prefix and suffix the model saw, template stops)."""
        template = self._template(engine, engine_config)
        before, after = fim_window(
            cursor.text, cursor.offset, engine.tokenizer, config.prefix_tokens, config.suffix_tokens
        )
        return template.render(before, after), before, after, template.stop

    def shape(self, raw: str, prepared: PreparedCompletion) -> str:
        """Post-processing: the raw model output cut to fit where the cursor is."""
        return shape_suggestion(raw, prepared.cursor.shape, prepared.suffix)

    async def _generate(
        self, engine: Engine, request: GenerationRequest, trace: RequestTrace, budget_s: float
    ) -> tuple[str, str]:
        pieces: list[str] = []
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
                        trace.prompt_tokens = delta.prompt_tokens
                        trace.cached_tokens = delta.cached_tokens
                        trace.generated_tokens = delta.generated_tokens
        except TimeoutError:
            trace.mark("last_token")
            return "".join(pieces), "timed_out"
        trace.mark("last_token")
        return "".join(pieces), "served"

    def _template(self, engine: Engine, config: EngineConfig) -> FimTemplate:
        key = (id(engine), config.fim_template)
        if key not in self._templates:
            self._templates = {key: detect_template(engine.tokenizer.special_tokens(), config.fim_template)}
        return self._templates[key]
