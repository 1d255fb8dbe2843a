"""Run one generation to the end, streaming deltas to a callback."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass

from aicockpit.engine.base import Engine
from aicockpit.generation import GenerationRequest


@dataclass
class Generated:
    text: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None  # "stop", "length"...


async def generate_text(
    engine: Engine, request: GenerationRequest, on_delta: Callable[[str], None] | None = None
) -> Generated:
    """Closing the stream on cancel aborts the request inside the engine."""
    result = Generated("")
    pieces: list[str] = []
    async with aclosing(engine.generate(request)) as stream:
        async for delta in stream:
            if delta.text:
                pieces.append(delta.text)
                if on_delta is not None:
                    on_delta(delta.text)
            result.prompt_tokens = delta.prompt_tokens
            result.cached_tokens = delta.cached_tokens
            result.completion_tokens = delta.generated_tokens
            result.finish_reason = delta.finish_reason or result.finish_reason
    result.text = "".join(pieces)
    return result
