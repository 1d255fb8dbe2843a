"""Time and one-shot signals for the scheduler, built so that a wait ends in one loop turn.

``first_of`` waits on one future: a signal's ``set`` and the timer call the
wake-up directly. With ``asyncio.Event`` and a sleep, each wait took three
tasks, and a wake-up went through two more loop turns, where the engine's
output handler (sharing the loop) could run first and delay the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock:
    """Real time. Tests pass a fake with the same three methods."""

    def now(self) -> float:
        return time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


class Signal:
    """A one-shot event: once set, it stays set. ``set`` calls the subscribed wake-ups at once."""

    __slots__ = ("_set", "_subscribers")

    def __init__(self) -> None:
        self._set = False
        self._subscribers: list[Callable[[], None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if not self._set:
            self._set = True
            for wake in self._subscribers[:]:
                wake()

    def subscribe(self, wake: Callable[[], None]) -> None:
        self._subscribers.append(wake)

    def unsubscribe(self, wake: Callable[[], None]) -> None:
        if wake in self._subscribers:
            self._subscribers.remove(wake)

    async def wait(self) -> None:
        await first_of(None, [self], None)


async def first_of(clock: Clock | None, signals: list[Signal], timeout: float | None) -> Signal | None:
    """Wait until one of ``signals`` is set (returned) or ``timeout`` passes (None)."""
    for signal in signals:
        if signal.is_set():
            return signal
    woken = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not woken.done():
            woken.set_result(None)

    for signal in signals:
        signal.subscribe(wake)
    timer = clock.call_later(timeout, wake) if timeout is not None and clock is not None else None
    try:
        await woken
    finally:
        for signal in signals:
            signal.unsubscribe(wake)
        if timer is not None:
            timer.cancel()
    return next((signal for signal in signals if signal.is_set()), None)
