"""The loop-lag monitor sees a stall of the event loop, and its snapshots subtract."""

from __future__ import annotations

import asyncio
import time

from aicockpit.loop_lag import LoopLagMonitor, histogram_since, lag_summary


async def wait_ticks(monitor: LoopLagMonitor, ticks: int) -> None:
    while sum(monitor.histogram.values()) < ticks:
        await asyncio.sleep(monitor.interval_s)


async def test_a_blocking_call_on_the_loop_shows_as_a_stall():
    monitor = LoopLagMonitor(interval_s=0.002)
    monitor.start()
    try:
        await wait_ticks(monitor, 5)
        before = monitor.snapshot()
        time.sleep(0.06)  # a blocking call on the loop
        await wait_ticks(monitor, sum(before.values()) + 3)
        during = lag_summary(histogram_since(before, monitor.snapshot()))
    finally:
        monitor.stop()
    assert during["max_ms"] >= 50 and during["over_50ms"] == 1  # counted once, not by every late tick
    assert monitor.summary()["ticks"] == sum(monitor.histogram.values())


def test_summary_of_a_histogram():
    # 98 ticks 0.0-0.1 ms late, one 4.0-4.1 ms, one 60.0-60.1 ms.
    summary = lag_summary({"0": 98, "40": 1, "600": 1})
    assert summary == {
        "ticks": 100,
        "p50_ms": 0.1,
        "p99_ms": 4.1,
        "max_ms": 60.1,
        "over_5ms": 1,
        "over_50ms": 1,
    }
    assert lag_summary({})["max_ms"] == 0.0
    assert histogram_since({"0": 5, "3": 1}, {"0": 9, "3": 1, "7": 2}) == {"0": 4, "7": 2}
