"""Signals and first_of: a wait ends on the first signal or the timeout, and leaves nothing behind."""

from __future__ import annotations

import asyncio

from aicockpit.waiting import Clock, Signal, first_of


async def test_the_first_signal_set_ends_the_wait_and_its_subscriptions():
    a, b = Signal(), Signal()
    waiting = asyncio.ensure_future(first_of(Clock(), [a, b], 5.0))
    await asyncio.sleep(0)
    b.set()
    assert await asyncio.wait_for(waiting, 1) is b
    a.set()  # nobody listens any more: setting it later is harmless
    assert a._subscribers == [] and b._subscribers == []


async def test_the_timeout_ends_the_wait_with_none():
    signal = Signal()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await first_of(Clock(), [signal], 0.02) is None
    assert loop.time() - started >= 0.015
    assert signal._subscribers == []


async def test_a_signal_already_set_answers_at_once_and_wait_returns():
    signal = Signal()
    signal.set()
    signal.set()
    assert await first_of(Clock(), [signal], 0) is signal
    await asyncio.wait_for(signal.wait(), 1)


async def test_a_cancelled_wait_unsubscribes():
    signal = Signal()
    waiting = asyncio.ensure_future(first_of(Clock(), [signal], None))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert signal._subscribers == []
