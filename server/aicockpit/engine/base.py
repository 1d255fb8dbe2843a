"""What every engine offers the layers above it."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from typing import Protocol

from aicockpit.generation import GenerationDelta, GenerationRequest, PromptFormat, TokenCounter


class EngineState(enum.StrEnum):
    STOPPED = "stopped"
    LOADING = "loading"
    READY = "ready"
    CRASHED = "crashed"  # died while serving: restarting (or, after too many crashes, FAILED)
    FAILED = "failed"


class EngineUnavailable(RuntimeError):
    """The engine is not loaded (yet), or failed."""


class EngineSetupError(RuntimeError):
    """The engine cannot start for a reason the user can fix; the message says what and how."""


class BackendError(RuntimeError):
    """A backend failed a request: unreachable, an HTTP error, garbage, or too slow.

    ``retryable`` is true when trying again (before any text arrived) may help.
    """

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Engine(Protocol):
    # Read-only to the layers above (properties, so an engine may hold a more specific type).
    @property
    def model_name(self) -> str: ...

    @property
    def tokenizer(self) -> TokenCounter: ...

    @property
    def prompt_format(self) -> PromptFormat:
        """What the prompt layer must build for this engine."""
        ...

    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationDelta, None]:
        """Stream the completion of ``request.prompt`` exactly as given; closing the generator aborts it."""
        ...

    def unfinished_requests(self) -> int: ...

    def failure(self) -> str | None:
        """Why the engine can serve no more (its process died), or None: its host restarts it."""
        ...

    def unresponsive(self, limit_s: float) -> str | None:
        """Why the engine cannot answer now (frozen, hung for ``limit_s``), or None."""
        ...

    def shutdown(self) -> None:
        """Release the engine at once (its host stops it; process exit kills what is left)."""
        ...


class EngineSource(Protocol):
    """Where a service finds the engine to use now: an ``EngineHost``, or the router's view of
    a role (``RoleHost``: that role's engine, whichever profile serves it at the moment)."""

    @property
    def engine(self) -> Engine:
        """The engine; ``EngineUnavailable`` while there is none to use."""
        ...

    def warm(self) -> None:
        """A request is coming (the user types): connect ahead to a remote backend if its
        connection went idle; nothing for an embedded engine."""
        ...
