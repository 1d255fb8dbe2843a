"""The loop-lag monitor sees a stall of the event loop, and its snapshots subtract."""

from __future__ import annotations

import asyncio
import time

from aicockpit.loop_lag import LoopLagMonitor, histogram_since, lag_summary, loop_summary, snapshot_since


async def wait_ticks(monitor: LoopLagMonitor, ticks: int) -> None:
    while sum(monitor.late.values()) < ticks:
        await asyncio.sleep(monitor.interval_s)


async def test_a_blocking_call_on_the_loop_shows_as_a_stall():
    monitor = LoopLagMonitor(interval_s=0.002)
    monitor.start()
    try:
        await wait_ticks(monitor, 5)
        before = monitor.snapshot()
        time.sleep(0.06)  # the loop waits, but its thread does not run: late, not busy
        await wait_ticks(monitor, sum(before["late"].values()) + 3)
        slept = loop_summary(snapshot_since(before, monitor.snapshot()))
        before = monitor.snapshot()
        deadline = time.thread_time() + 0.06
        while time.thread_time() < deadline:  # a blocking computation on the loop: busy
            pass
        await wait_ticks(monitor, sum(before["late"].values()) + 3)
        worked = loop_summary(snapshot_since(before, monitor.snapshot()))
    finally:
        monitor.stop()
    assert slept["max_ms"] >= 50 and slept["over_50ms"] == 1  # counted once, not by every late tick
    assert slept["busy"]["max_ms"] < 50
    assert worked["max_ms"] >= 50 and worked["busy"]["max_ms"] >= 50 and worked["busy"]["over_50ms"] == 1
    assert monitor.summary()["ticks"] == sum(monitor.late.values())


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
