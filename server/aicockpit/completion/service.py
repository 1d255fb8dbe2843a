"""One completion, from document and cursor to suggestion text.

Used by both ``textDocument/inlineCompletion`` and the ``textDocument/completion``
fallback, and by ``aicockpit complete``. Never raises for a missing document or
engine: the answer is simply ``None``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass

from aicockpit.completion.postprocess import cursor_shape, shape_suggestion, stop_strings
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
        config, engine_config = self._settings()
        if not config.enabled:
            return None, "disabled"
        try:
            doc = self._documents.get(uri)
            engine = self._host.engine
        except UnknownDocument:
            return None, "unknown_document"
        except EngineUnavailable:
            return None, "engine_unavailable"
        lines = doc.lines
        if position.line >= lines.line_count or position.line < 0:
            return None, "out_of_range"  # the client is ahead of or behind this text
        position = lines.clamp(position)
        offset = lines.offset(position)
        text, version = doc.text, doc.version
        line_start = lines.starts[position.line]
        line_end = text.find("\n", offset)
        shape = cursor_shape(
            text[line_start:offset], text[offset : len(text) if line_end < 0 else line_end], config.multiline
        )
        template = self._template(engine, engine_config)
        before, after = fim_window(text, offset, engine.tokenizer, config.prefix_tokens, config.suffix_tokens)
        trace.mark("context_built")
        request = GenerationRequest(
            request_id=f"cmpl-{uuid.uuid4().hex[:12]}",
            prompt=template.render(before, after),
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            stop=stop_strings(shape) + template.stop,
            priority=Priority.COMPLETION,
            fim=(before, after),  # lets each backend lay out FIM its own way (routing, remote suffix)
        )
        raw, outcome = await self._generate(engine, request, trace, config.timeout_ms / 1000)
        suggestion = shape_suggestion(raw, shape, after)
        trace.mark("post_processed")
        if not suggestion.strip():
            return None, "empty" if outcome == "served" else outcome
        return Suggestion(suggestion, position, version, trace), outcome

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
