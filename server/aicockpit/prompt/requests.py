"""Engine requests, built in one place for every kind: completion, pre-warm, next edit, edit, chat.

``engine_request`` is the one constructor of a ``GenerationRequest``. Each kind
has a builder (a ``RequestBuilder``: completion.py's ``CompletionRequest``,
``ConversationRequest`` here, next_edit.py's ``NextEditRequest``) that knows how
to lay out its prompt for any backend: the request carries it, and the router
asks it for a request of its own when it falls back to a backend of another
format or tokenizer. Stop strings are part of what a builder decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aicockpit.generation import GenerationRequest, Priority, RequestBuilder, chat_messages
from aicockpit.prompt.chat import Message, render_chat


def engine_request(
    target: Any,
    *,
    request_id: str,
    priority: Priority,
    max_tokens: int,
    temperature: float = 0.0,
    text: str = "",
    suffix: str | None = None,
    messages: Sequence[Message] | None = None,
    stop: Sequence[str] = (),
    builder: RequestBuilder | None = None,
) -> GenerationRequest:
    """The request for ``target`` (the engine whose format and tokenizer the prompt was laid out for)."""
    return GenerationRequest(
        request_id=request_id,
        prompt=text,
        max_tokens=max_tokens,
        temperature=temperature,
        stop=tuple(stop),
        priority=priority,
        suffix=suffix,
        messages=chat_messages(messages) if messages is not None else None,
        target=target,
        builder=builder,
    )


def completion_stops(multiline: bool) -> tuple[str, ...]:
    """Where a completion may stop early: post-processing would cut there anyway."""
    return ("\n",) if not multiline else ("\n\n\n",)


@dataclass(frozen=True)
class ConversationRequest:
    """A chat-style request (edit, chat, explain, docstring, shell, an instruct model's next edit):
    the messages go to a chat API as they are, and to a text engine rendered with the model's
    own chat template."""

    messages: tuple[Message, ...]
    request_id: str
    max_tokens: int
    priority: Priority = Priority.CHAT
    temperature: float = 0.0
    stop: tuple[str, ...] = ()

    def build(self, target: Any, builder: RequestBuilder | None = None) -> GenerationRequest:
        """``builder``: the one that asked, when this conversation is part of another kind's request
        (a fallback then rebuilds that one)."""
        text = "" if target.prompt_format.chat_api else render_chat(target.tokenizer, self.messages)
        return engine_request(
            target,
            request_id=self.request_id,
            priority=self.priority,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            text=text,
            messages=self.messages,
            stop=self.stop,
            builder=builder or self,
        )


def chat_request(target: Any, messages: Sequence[Message], **fields: Any) -> GenerationRequest:
    """The engine request for a conversation, built for ``target``; ``fields`` are
    ``ConversationRequest``'s others (request_id, priority, max_tokens, temperature, stop)."""
    return ConversationRequest(tuple(messages), **fields).build(target)
