"""How long the event loop stalls: every keystroke's answer waits behind whatever runs on it.

A timer fires every ``INTERVAL_S``; how late each tick runs after its due time is
the stall it sat behind. Two causes, told apart by the loop thread's own CPU time:

- ``late``: the whole delay, whatever caused it, including the process waiting
  for a CPU (a machine shared with other work) or for the GIL (another thread);
- ``busy``: the part the loop thread spent running (CPU time, capped at the
  delay): work done on the loop (a blocking call, a long callback, a garbage
  collection). This is the part the server's own code controls.

Each is counted in a histogram of 0.1 ms steps: cheap to keep for hours, cheap
to summarise on the loop (sorting thousands of samples would be a stall of its
own), and two snapshots subtract into the figures of the time between them
(``aicockpit bench`` does). Reported in ``aicockpit/stats`` as ``event_loop``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from typing import Any

INTERVAL_S = 0.005  # short enough to see a few-ms stall, ~200 cheap callbacks a second
STEP_MS = 0.1  # histogram resolution


class LoopLagMonitor:
    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.late: Counter[int] = Counter()  # lateness in STEP_MS steps -> ticks
        self.busy: Counter[int] = Counter()  # the part of it the loop thread ran
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._cpu = 0.0

    def start(self) -> None:
        """Start on the running loop (once; again after ``stop``)."""
        if self._handle is not None:
            return
        loop = asyncio.get_running_loop()
        self._due = loop.time() + self.interval_s
        self._cpu = time.thread_time()
        self._handle = loop.call_at(self._due, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now, cpu = loop.time(), time.thread_time()
        late = max(0.0, now - self._due)
        # CPU the loop thread used since the last tick, capped at the delay: work done
        # earlier, while the tick was not due yet, delayed nothing.
        busy = min(late, cpu - self._cpu)
        self.late[int(late * 1000 / STEP_MS)] += 1
        self.busy[int(busy * 1000 / STEP_MS)] += 1
        # The next tick is due an interval from now, not from the missed due time: a
        # stall is counted once, not again by every tick it pushed back.
        self._due, self._cpu = now + self.interval_s, cpu
        self._handle = loop.call_at(self._due, self._tick, loop)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Both histograms so far, JSON-ready: {"late"|"busy": {"steps of 0.1 ms": ticks}}."""
        # dict() copies at once under the GIL: the metrics exporter reads from its own thread.
        return {
            name: {str(step): count for step, count in sorted(dict(histogram).items())}
            for name, histogram in (("late", self.late), ("busy", self.busy))
        }

    def summary(self) -> dict[str, Any]:
        return {"interval_ms": self.interval_s * 1000, **loop_summary(self.snapshot())}


def loop_summary(snapshot: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The lateness figures, and the part the loop thread was busy under ``busy``."""
    busy = lag_summary(snapshot["busy"])
    del busy["ticks"], busy["p50_ms"]
    return {**lag_summary(snapshot["late"]), "busy": busy}


def snapshot_since(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    return {name: histogram_since(before[name], after[name]) for name in after}


def lag_summary(histogram: dict[str, int]) -> dict[str, Any]:
    """Ticks, p50/p99/max lateness (the upper edge of their 0.1 ms step) and ticks later than 5 and 50 ms."""
    steps = sorted((int(step), count) for step, count in histogram.items() if count > 0)
    total = sum(count for _, count in steps)

    def quantile(q: float) -> float:
        if not total:
            return 0.0
        rank, seen = max(1, math.ceil(q * total)), 0
        for step, count in steps:
            seen += count
            if seen >= rank:
                return round((step + 1) * STEP_MS, 1)
        return round((steps[-1][0] + 1) * STEP_MS, 1)

    def later_than(ms: float) -> int:
        return sum(count for step, count in steps if step * STEP_MS >= ms)

    return {
        "ticks": total,
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "max_ms": round((steps[-1][0] + 1) * STEP_MS, 1) if steps else 0.0,
        "over_5ms": later_than(5),
        "over_50ms": later_than(50),
    }


def histogram_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The ticks counted between two snapshots."""
    return {step: count - before.get(step, 0) for step, count in after.items() if count > before.get(step, 0)}
