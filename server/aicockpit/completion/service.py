"""One completion, from document and cursor to suggestion text.

Every request reaches it through ``CompletionScheduler`` (scheduler.py: the
editor's requests and ``aicockpit complete`` alike), which uses its steps one by
one: ``locate`` (cheap snapshot of the cursor), ``prepare`` (the engine request,
around the one prompt ``PromptAssembler.build`` makes) and ``shape``
(post-processing). Never raises for a missing document or engine: the answer is
simply ``None``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aicockpit.completion.postprocess import CursorShape, shape_suggestion
from aicockpit.completion.syntax_rules import check_insertion, syntax_cursor_shape
from aicockpit.config import CompletionConfig
from aicockpit.context.documents import DocumentStore, TextDocument, UnknownDocument
from aicockpit.context.positions import Position
from aicockpit.engine.base import Engine, EngineSource
from aicockpit.generation import GenerationRequest
from aicockpit.prompt.assemble import (
    CompletionPrompt,
    CompletionRequest,
    PromptAssembler,
    PromptTarget,
    speed_of,
)
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
    def context(self) -> list[dict[str, Any]]:
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
        self, cursor: Cursor, engine: PromptTarget, unhurried: bool = False, max_tokens: int | None = None
    ) -> PreparedCompletion | None:
        """The engine request for ``cursor``, its prompt built for ``engine``; None in a secrets file.

        ``unhurried``: built in the background (pre-warming), retrieval may take its time;
        ``max_tokens``: instead of the budget's (the warm-up).
        """
        config = self._settings()
        builder = CompletionRequest(
            self._assembler,
            cursor.doc,
            cursor.offset,
            cursor.shape.multiline,
            f"cmpl-{uuid.uuid4().hex[:12]}",
            config.temperature,
            max_tokens,
            unhurried,
        )
        prompt = builder.prompt(engine)
        if prompt is None:
            return None  # a secrets file: never sent to a model
        return PreparedCompletion(cursor, prompt, builder.request(prompt, engine), config)

    def deadline_ms(self, prepared: PreparedCompletion, invoked: bool = False) -> float:
        """How long this completion may take: the setting, else enough for its prompt on this machine.

        The settings as they are now, not as they were when ``prepared`` was built: a request
        that attaches to a running generation gets its own deadline."""
        return self._assembler.budgets.deadline_ms(
            self._settings(), speed_of(prepared.request.target), prepared.prompt.tokens, invoked
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
