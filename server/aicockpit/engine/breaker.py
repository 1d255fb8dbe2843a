"""A circuit breaker per backend: stop sending requests to a backend that keeps failing.

Closed: requests pass. After ``failures`` consecutive failures it opens: requests
skip the backend (and go to the role's fallback) without waiting on it. After
``cooldown_s`` one probe request may pass (half-open); its success closes the
breaker, its failure opens it for another cool-down.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Any


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._probing = False
        self.consecutive_failures = 0
        self.successes = 0
        self.failures = 0
        self.times_opened = 0
        self.last_error = ""

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May a request go to this backend now? A half-open breaker lets one probe through."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def release(self) -> None:
        """The request allowed by ``allow`` ended without a verdict (the client cancelled it)."""
        self._probing = False

    def success(self) -> None:
        self.successes += 1
        self.consecutive_failures = 0
        self._probing = False
        self._state = BreakerState.CLOSED

    def failure(self, reason: str) -> None:
        self.failures += 1
        self.consecutive_failures += 1
        self.last_error = reason
        was_probe, self._probing = self._probing, False
        if was_probe or self.consecutive_failures >= self.threshold:
            if self._state is not BreakerState.OPEN or was_probe:
                self.times_opened += 1
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()

    def trip(self, reason: str) -> None:
        """Open now: the backend is known to be unusable (its engine stopped answering)."""
        self.last_error = reason
        if self._state is not BreakerState.OPEN:
            self.times_opened += 1
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probing = False

    def reset(self) -> None:
        """Close: the backend is new (its engine restarted), its past failures say nothing of it."""
        self.consecutive_failures = 0
        self._probing = False
        self._state = BreakerState.CLOSED

    def reconfigure(self, failures: int, cooldown_s: float) -> None:
        self.threshold, self.cooldown_s = failures, cooldown_s

    def status(self) -> dict[str, Any]:
        state = self.state
        retry_in = (
            max(0.0, self.cooldown_s - (self._clock() - self._opened_at)) if state is BreakerState.OPEN else 0
        )
        return {
            "breaker": state.value,
            "consecutive_failures": self.consecutive_failures,
            "failures": self.failures,
            "successes": self.successes,
            "times_opened": self.times_opened,
            "retry_in_s": round(retry_in, 1),
            "last_error": self.last_error,
        }
