"""What every engine offers the layers above it."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


class EngineState(enum.StrEnum):
    STOPPED = "stopped"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class Priority(enum.IntEnum):
    """Lower runs first: ghost text must never wait behind a long chat answer."""

    COMPLETION = 0
    EDIT = 1
    CHAT = 2


class EngineUnavailable(RuntimeError):
    """The engine is not loaded (yet), or failed."""


@dataclass(frozen=True)
class GenerationRequest:
    request_id: str
    prompt: str
    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    priority: Priority = Priority.COMPLETION


@dataclass
class GenerationDelta:
    """New text since the previous delta, and running counts for the request."""

    text: str
    finished: bool = False
    finish_reason: str | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    stop_reason: str | int | None = field(default=None)


class Tokenizer(Protocol):
    def count(self, text: str) -> int: ...
    def head(self, text: str, tokens: int) -> str: ...
    def tail(self, text: str, tokens: int) -> str: ...
    def special_tokens(self) -> set[str]: ...


class Engine(Protocol):
    model_name: str
    tokenizer: Tokenizer

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationDelta]:
        """Stream the completion; closing the iterator aborts the request."""
        ...

    def unfinished_requests(self) -> int: ...

    def shutdown(self) -> None:
        """Release the engine at once; the last resort when the event loop is gone."""
        ...
