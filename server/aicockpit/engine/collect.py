"""The one loop that runs a generation: an engine's stream read to its end, or stopped early.

Every generation goes through ``generate_text``: ghost text (whose scheduler stops
it as soon as post-processing knows where the suggestion ends), pre-warming, next
edits, edits, chat. ``on_delta`` sees each delta with the result so far, and
returns False to stop. However it ends, the stream is closed, which aborts the
request inside the engine; that close, and the draining of a stream the engine
had finished (a remote connection then serves the next request, and the
backend's usage arrives), run in the background: the caller answers first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from aicockpit.background import spawn
from aicockpit.engine.base import Engine
from aicockpit.generation import GenerationDelta, GenerationRequest

log = logging.getLogger(__name__)


@dataclass
class Generated:
    text: str = ""
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None  # "stop", "length"... (None: stopped before the end)
    finished: bool = False  # the engine ended it
    sent_at: float | None = None  # a remote backend: when the request was on the wire
    first_at: float | None = None  # when the first delta arrived
    last_at: float | None = None  # when the last delta read arrived

    @property
    def truncated(self) -> bool:
        """``max_tokens`` cut it: it ends in the middle of whatever it was writing."""
        return self.finish_reason == "length"

    def add(self, delta: GenerationDelta, arrived: float) -> None:
        if self.sent_at is None:
            self.sent_at = delta.sent_at
        if self.first_at is None:
            self.first_at = arrived
        self.last_at = arrived
        self.text += delta.text
        self.prompt_tokens = delta.prompt_tokens
        self.cached_tokens = delta.cached_tokens
        self.completion_tokens = delta.generated_tokens
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.finished = self.finished or delta.finished


OnDelta = Callable[[GenerationDelta, Generated], bool | None]


def texts(on_text: Callable[[str], None] | None) -> OnDelta | None:
    """An ``on_delta`` that hands each new piece of text to ``on_text`` (streaming to the editor)."""
    if on_text is None:
        return None

    def on_delta(delta: GenerationDelta, _so_far: Generated) -> None:
        if delta.text:
            on_text(delta.text)

    return on_delta


async def generate_text(
    engine: Engine,
    request: GenerationRequest,
    on_delta: OnDelta | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Generated:
    """Run ``request`` on ``engine``; ``on_delta`` (every delta, the last one too) returning False
    stops it there.

    A remote delta carries when its bytes arrived (``received_at``): the wait for it was
    the backend's, whatever this loop did meanwhile.
    """
    result = Generated()
    stream = engine.generate(request)
    try:
        async for delta in stream:
            result.add(delta, delta.received_at if delta.received_at is not None else clock())
            keep_going = on_delta(delta, result) if on_delta is not None else None
            if delta.finished or keep_going is False:
                break
    finally:
        # Started a loop turn later: whoever waits for this answer (woken by the caller once this
        # returns) runs first, and the wind-down (vLLM's abort, a remote stream's rest) after it.
        asyncio.get_running_loop().call_soon(
            lambda: spawn(_wind_down(stream, result.finished), name="stream wind-down")
        )
    return result


async def _wind_down(stream: AsyncGenerator[GenerationDelta, None], drain: bool) -> None:
    """After the answer: read ``stream`` to its end (``drain``), then close it (an abort if unfinished)."""
    try:
        if drain:
            async for _ in stream:
                pass
    except Exception as err:  # the answer was complete: what comes after it fails nobody
        log.debug("after a complete answer, its stream failed: %s", err)
    finally:
        await stream.aclose()
