"""How fast a backend is, measured from its own requests: prefill and decode speed, time to first token.

Every request a backend serves is a sample (the router records them: routing.py):
its prompt tokens, how many of them the prefix cache held, when its first token
came and how fast the rest followed. The warm-up's two requests give the first
figures as soon as an embedded engine is ready; the prompt budgets
(prompt/budget.py) are sized from them and follow the machine as it speeds up or
slows down.

The estimates are medians of recent samples, so one request that waited behind a
long chat answer, or one hiccup of a shared machine, moves nothing. A request
that started while the backend was busy with another is kept out of the prefill
and first-token estimates (its wait was someone else's work), but its decode speed
still counts.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aicockpit.generation import EngineSpeed

KEPT = 32  # recent samples per estimate
PREFILL_MIN_TOKENS = 64  # fewer uncached tokens than this say more about the fixed cost than the rate
BASE_MAX_TOKENS = 48  # a request with at most this many uncached tokens measures the fixed cost
FIRST_TOKEN_WINDOW_S = 300.0  # the first-token figure a status shows is about the last few minutes
# A sample whose wait is under this many fixed costs is mostly fixed cost: subtracting that
# leaves noise, and noise over a few tokens made a 600 tokens/s CPU look 2,000-5,000 fast (a
# pre-warm chunk, a keystroke's last line), which sized prompts that missed every deadline.
PREFILL_DOMINANT = 3.0
SNAPSHOT_FRESH_S = 1.0  # a snapshot is read at every prompt build: computed again at most this often


@dataclass(frozen=True)
class SpeedSample:
    prompt_tokens: int
    cached_tokens: int
    first_token_s: float  # from the request's start to its first token
    decode_s: float  # from the first token to the last one seen
    generated_tokens: int  # tokens seen, the first one included
    busy: bool = False  # the backend was serving another request when this one started

    @property
    def uncached(self) -> int:
        return max(0, self.prompt_tokens - self.cached_tokens)


class SpeedMeter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._prefill: deque[tuple[int, float]] = deque(maxlen=KEPT)  # (uncached tokens, s to first token)
        self._base: deque[float] = deque(maxlen=KEPT)  # seconds to a first token with ~nothing to prefill
        self._decode: deque[float] = deque(maxlen=KEPT)  # seconds per generated token
        self._first: deque[tuple[float, float]] = deque(maxlen=KEPT)  # (when, seconds to first token)
        self._snapshot: tuple[float, EngineSpeed] | None = None  # (when computed, what), until a sample
        self.samples = 0

    def observe(self, sample: SpeedSample) -> None:
        self.samples += 1
        self._snapshot = None
        if sample.generated_tokens >= 2 and sample.decode_s > 0:
            self._decode.append(sample.decode_s / (sample.generated_tokens - 1))
        if sample.busy:
            return
        self._first.append((self._clock(), sample.first_token_s))
        if sample.uncached <= BASE_MAX_TOKENS:
            self._base.append(sample.first_token_s)
        elif sample.uncached >= PREFILL_MIN_TOKENS:
            self._prefill.append((sample.uncached, sample.first_token_s))

    def _fixed_s(self) -> float | None:
        """A request's cost with nothing to prefill: measured, else one decode step (a forward pass
        over one token)."""
        if self._base:
            return statistics.median(self._base)
        if self._decode:
            return statistics.median(self._decode)
        return None

    def snapshot(self) -> EngineSpeed:
        """The current estimates; the same object until a sample comes or a second passes."""
        now = self._clock()
        if self._snapshot is not None and now - self._snapshot[0] < SNAPSHOT_FRESH_S:
            return self._snapshot[1]
        speed = self._estimate(now)
        self._snapshot = (now, speed)
        return speed

    def _estimate(self, now: float) -> EngineSpeed:
        fixed = self._fixed_s()
        prefill = None
        if self._prefill and fixed is not None:
            # Seconds per uncached token, the fixed cost taken out, from the samples the prefill
            # dominates; with none yet, the whole wait of each (the slow, safe side).
            rates = [(first - fixed) / n for n, first in self._prefill if first >= PREFILL_DOMINANT * fixed]
            prefill = statistics.median(rates or [first / n for n, first in self._prefill])
        decode = statistics.median(self._decode) if self._decode else None
        recent = [s for when, s in self._first if now - when <= FIRST_TOKEN_WINDOW_S]
        return EngineSpeed(
            prefill_tokens_per_s=round(1 / prefill, 1) if prefill else None,
            decode_ms_per_token=round(decode * 1000, 2) if decode is not None else None,
            base_ms=round(statistics.median(self._base) * 1000, 2) if self._base else None,
            first_token_ms_p50=round(statistics.median(recent) * 1000, 1) if recent else None,
            samples=self.samples,
        )

    def reset(self) -> None:
        """Another engine or model now serves: what was measured is about something else."""
        for kept in (self._prefill, self._base, self._decode, self._first):
            kept.clear()
        self.samples = 0
        self._snapshot = None
