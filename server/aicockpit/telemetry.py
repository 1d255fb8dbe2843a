"""Per-request traces and the aggregates ``aicockpit/stats`` reports."""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

WASTEFUL_OUTCOMES = {"cancelled", "timed_out", "superseded"}


@dataclass
class RequestTrace:
    """What happened to one request, stage by stage (milliseconds since received)."""

    kind: str
    id: int
    started: float = field(default_factory=time.perf_counter)
    marks: dict[str, float] = field(default_factory=dict)
    outcome: str = "pending"
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    context: list[dict[str, Any]] = field(default_factory=list)  # the repository snippets in the prompt

    def mark(self, stage: str) -> None:
        self.marks[stage] = round((time.perf_counter() - self.started) * 1000, 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "outcome": self.outcome,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "generated_tokens": self.generated_tokens,
            "timings_ms": dict(self.marks),
            "context": list(self.context),
        }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


class Telemetry:
    """Keeps the latest traces (bounded) and totals since start."""

    def __init__(self, keep: int = 2000) -> None:
        self._traces: deque[RequestTrace] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self.outcomes: Counter[str] = Counter()
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.generated_tokens = 0
        self.wasted_tokens = 0

    def start(self, kind: str) -> RequestTrace:
        trace = RequestTrace(kind, next(self._ids))
        trace.mark("received")
        return trace

    def finish(self, trace: RequestTrace, outcome: str) -> RequestTrace:
        trace.outcome = outcome
        trace.mark("answered")
        self._traces.append(trace)
        self.outcomes[outcome] += 1
        self.prompt_tokens += trace.prompt_tokens
        self.cached_tokens += trace.cached_tokens
        self.generated_tokens += trace.generated_tokens
        if outcome in WASTEFUL_OUTCOMES:
            self.wasted_tokens += trace.generated_tokens
        return trace

    def summary(self) -> dict[str, Any]:
        stages: dict[str, list[float]] = {}
        for trace in self._traces:
            for stage, ms in trace.marks.items():
                stages.setdefault(stage, []).append(ms)
        return {
            "requests": sum(self.outcomes.values()),
            "outcomes": dict(self.outcomes),
            "stages_ms": {
                stage: {f"p{q}": percentile(values, q) for q in (50, 95, 99)}
                for stage, values in stages.items()
            },
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "prefix_cache_hit_ratio": (
                round(self.cached_tokens / self.prompt_tokens, 4) if self.prompt_tokens else 0.0
            ),
            "generated_tokens": self.generated_tokens,
            "wasted_tokens": self.wasted_tokens,
            "wasted_tokens_ratio": (
                round(self.wasted_tokens / self.generated_tokens, 4) if self.generated_tokens else 0.0
            ),
            "last_request": self._traces[-1].as_dict() if self._traces else None,
        }
