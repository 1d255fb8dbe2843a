"""What crosses from the prompt layer to the engines: one generation request, and its answer.

The prompt layer (prompt/) builds the exact text; the engines (engine/) send it
unchanged. Neither package imports the other: both import this module.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class TokenCounter(Protocol):
    """An engine's tokenizer as the prompt layer uses it: token budgets, cut on token boundaries."""

    def count(self, text: str) -> int: ...
    def head(self, text: str, tokens: int) -> str: ...
    def tail(self, text: str, tokens: int) -> str: ...
    def special_tokens(self) -> set[str]: ...


class Priority(enum.IntEnum):
    """Lower runs first: ghost text must never wait behind a long chat answer."""

    COMPLETION = 0
    NEXT_EDIT = 1  # a suggestion the user waits for while looking at the code
    EDIT = 2
    CHAT = 3
    PREWARM = 4  # filling the prefix cache ahead of a completion: anything real goes first


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system, user or assistant
    content: str


def chat_messages(messages: Sequence[dict[str, str]]) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage(m["role"], m["content"]) for m in messages)


@dataclass(frozen=True)
class PromptFormat:
    """What a backend takes, so that the prompt layer can build exactly that.

    An engine states it; the prompt layer reads it and never asks the engine to
    lay anything out.
    """

    # A fill-in-the-middle family (qwen, starcoder, deepseek, codellama), "prefix"
    # (no FIM: the code before the cursor only), or "auto": from the tokenizer.
    template: str = "auto"
    # The API takes the code after the cursor in its own ``suffix`` field and wraps
    # prompt and suffix in the model's FIM template itself (Ollama and others).
    suffix_field: bool = False
    # Chat goes to the server as messages (its own chat template); otherwise the
    # prompt layer renders them into text with the tokenizer's chat template.
    chat_api: bool = False
    # The most stop strings the API accepts (the OpenAI API: four); None: no limit.
    max_stops: int | None = None
    # Prompt plus completion, in tokens.
    context_length: int = 8192


@dataclass(frozen=True)
class EngineSpeed:
    """How fast the backend serving a role has been, as measured (engine/speed.py); None: not yet."""

    prefill_tokens_per_s: float | None = None  # prompt tokens not in the prefix cache, per second
    decode_ms_per_token: float | None = None
    base_ms: float | None = None  # a request's time to its first token with nothing to prefill
    first_token_ms_p50: float | None = None  # of recent requests, as the user waited for them
    samples: int = 0

    @property
    def measured(self) -> bool:
        return self.prefill_tokens_per_s is not None and self.decode_ms_per_token is not None

    def predict_ms(self, uncached_tokens: int, new_tokens: int) -> float | None:
        """Time to ``new_tokens`` after prefilling ``uncached_tokens``; None until measured."""
        if self.prefill_tokens_per_s is None or self.decode_ms_per_token is None:
            return None
        base = self.base_ms if self.base_ms is not None else self.decode_ms_per_token
        prefill = uncached_tokens / self.prefill_tokens_per_s * 1000
        return base + prefill + max(0, new_tokens - 1) * self.decode_ms_per_token


class RequestBuilder(Protocol):
    """Builds one request's prompt for a given backend (prompt/requests.py): the router asks it
    again when it falls back to a backend of another format or tokenizer."""

    def build(self, target: Any) -> GenerationRequest: ...


@dataclass(frozen=True)
class GenerationRequest:
    """One engine request. ``prompt`` (and ``suffix``, ``messages``) go out exactly as built."""

    request_id: str
    prompt: str
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    priority: Priority = Priority.COMPLETION
    # For APIs with a separate suffix field (``PromptFormat.suffix_field``).
    suffix: str | None = None
    # Chat roles (edit, chat): the conversation, for chat APIs. ``prompt`` then holds
    # the same conversation rendered with the model's chat template, for text engines.
    messages: tuple[ChatMessage, ...] | None = None
    # What the prompt was built for (an object with ``tokenizer`` and ``prompt_format``),
    # and how to build it for another backend (a fallback with another model or API):
    # the prompt layer's own builder, so that engines never lay out a prompt themselves.
    target: Any = field(default=None, compare=False, repr=False)
    builder: RequestBuilder | None = field(default=None, compare=False, repr=False)

    def fits(self, engine: Any) -> bool:
        """Was this prompt built for ``engine``'s format and tokenizer?"""
        target = self.target
        return target is None or (
            engine.prompt_format == target.prompt_format and engine.tokenizer is target.tokenizer
        )


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
    # The prompt as the engine tokenized it (embedded vLLM, first delta only): the
    # evidence of what the model processed.
    prompt_token_ids: Sequence[int] | None = None
    # Remote backends (``time.perf_counter``): when the request was written to the
    # connection, and when the bytes carrying this delta arrived. The server's own
    # time is what lies outside that span; None: the engine does not say.
    sent_at: float | None = None
    received_at: float | None = None
