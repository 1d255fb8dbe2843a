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


class BackendError(RuntimeError):
    """A backend failed a request: unreachable, an HTTP error, garbage, or too slow.

    ``retryable`` is true when trying again (before any text arrived) may help.
    """

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system, user or assistant
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    request_id: str
    prompt: str
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    priority: Priority = Priority.COMPLETION
    # Chat roles (edit, chat): the conversation. Engines render it with the model's
    # chat template (embedded) or send it to /v1/chat/completions (remote); ``prompt``
    # is then ignored.
    messages: tuple[ChatMessage, ...] | None = None
    # Completion role: the code before and after the cursor, when ``prompt`` is a FIM
    # prompt built from them. Lets a backend use its own FIM layout or the API's
    # ``suffix`` field instead of ``prompt``.
    fim: tuple[str, str] | None = None


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
        """Release the engine at once (its host stops it; process exit kills what is left)."""
        ...
