"""Per-request traces and the aggregates ``aicockpit/stats`` reports (metrics.py exports them).

Requests (``kind`` completion, prefetch, warmup) each leave a ``RequestTrace``:
stage times since the request was received, token counts and an outcome.
Engine work is accounted per engine request (one generation may serve several
LSP requests), so tokens are never counted twice.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aicockpit.loop_lag import LoopLagMonitor

WASTEFUL_OUTCOMES = {"cancelled", "timed_out", "superseded"}
# Outcomes where the user got an answer from the pipeline (not dropped on the way).
ANSWERED_OUTCOMES = {"served", "cache_hit", "reused", "timed_out", "empty"}
STAGES = (
    "received",  # read from the client
    "handler_started",  # after what was read with it (a keystroke's didChange) was handled
    "context_built",  # built during the debounce
    "debounce_end",
    "engine_enqueued",
    "request_sent",  # remote backends: the HTTP request is written
    "first_token",
    "last_token",
    "post_processed",
    "answered",
)


@dataclass
class RequestTrace:
    """What happened to one request, stage by stage (milliseconds since received)."""

    kind: str
    id: int
    clock: Callable[[], float] = field(default=time.perf_counter, repr=False)
    started: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)
    outcome: str = "pending"
    tag: str | None = None  # the client's workDoneToken, so a benchmark can match its requests
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    debounce_ms: float = 0.0
    engine_ms: float = 0.0  # time this request waited on engine output
    engine_accounted: bool = False  # tokens are counted per engine request, not here
    context: list[dict[str, Any]] = field(default_factory=list)  # the repository snippets in the prompt

    def __post_init__(self) -> None:
        self.started = self.started or self.clock()

    def mark(self, stage: str, at: float | None = None) -> None:
        self.marks[stage] = round(((at if at is not None else self.clock()) - self.started) * 1000, 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "tag": self.tag,
            "outcome": self.outcome,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "generated_tokens": self.generated_tokens,
            "debounce_ms": round(self.debounce_ms, 3),
            "engine_ms": round(self.engine_ms, 3),
            "timings_ms": dict(self.marks),
            "context": list(self.context),
        }


PROMPT_LOG_SIZE = 20


class PromptLog:
    """The last prompts sent to the engines, and what the engine reports it processed.

    Off unless ``logging.prompts`` is set: prompts hold the user's code. The
    ``processed`` text is the embedded engine's own tokenization of the prompt,
    decoded (special tokens kept): what the model saw, not aicockpit's copy.
    """

    def __init__(self, size: int = PROMPT_LOG_SIZE) -> None:
        self.enabled = False
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def record(self, role: str, backend: str, request: Any, tokenizer: Any, delta: Any) -> None:
        if not self.enabled:
            return
        processed = None
        decode = getattr(tokenizer, "decode", None)
        if delta.prompt_token_ids is not None and decode is not None:
            processed = decode(delta.prompt_token_ids)
        messages = request.messages
        self._entries.append(
            {
                "role": role,
                "backend": backend,
                "request_id": request.request_id,
                "prompt": request.prompt,
                "suffix": request.suffix,
                "messages": [{"role": m.role, "content": m.content} for m in messages] if messages else None,
                "stop": list(request.stop),
                "processed": processed,
                "prompt_tokens": delta.prompt_tokens,
            }
        )

    def entries(self) -> list[dict[str, Any]]:
        return list(self._entries)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


LATENCIES_KEPT = 200


class NextEditStats:
    """Next-edit suggestions: requests and why they ended, suggestions by source (a structural kind
    or the model) with what the user did with them, the decisions between sources, latencies."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.by_source: dict[str, Counter[str]] = {}
        self.decisions: Counter[str] = Counter()
        self.latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)  # the model's, ms
        self.structural_latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)  # the finders', ms

    def track(self, sources: tuple[str, ...]) -> None:
        """The sources a suggestion may come from (each listed in the summary, counted or not)."""
        for source in sources:
            self.by_source.setdefault(source, Counter())

    def summary(self) -> dict[str, Any]:
        latencies, structural = sorted(self.latencies), list(self.structural_latencies)
        return {
            **dict(self.counts),
            "latency_p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
            "by_source": {source: dict(counts) for source, counts in self.by_source.items()},
            # Why a suggestion came from where it did: structural_found (the model was not
            # asked), structural_none / structural_rename_collision / ... (the model was),
            # model_undoes_last_edit and model_outside_region (the model's was dropped).
            "decisions": dict(self.decisions),
            "structural_latency_ms": {
                f"p{q}": round(percentile(structural, q), 2) if structural else None for q in (50, 99)
            },
        }


class Telemetry:
    """Keeps the latest traces (bounded) and totals since start.

    ``summary`` may be called from the Prometheus exporter's thread: it reads snapshots
    (``list(deque)`` and ``dict(counter)`` copy atomically under the GIL).
    """

    def __init__(self, keep: int = 2000, clock: Callable[[], float] = time.perf_counter) -> None:
        self.prompts = PromptLog()
        self.next_edit = NextEditStats()
        self.loop_lag = LoopLagMonitor()  # started on the server's loop (lifecycle)
        self._traces: deque[RequestTrace] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._clock = clock
        self.outcomes: Counter[str] = Counter()  # completion requests only
        self.by_kind: dict[str, Counter[str]] = {}  # outcomes of every kind: completion, prefetch, warmup
        self.engine_requests: Counter[str] = Counter()  # engine generations started, per kind
        self.wasted_by_reason: Counter[str] = Counter()
        self.accepted = 0
        self.early_stops = 0  # generations stopped once post-processing knew where the suggestion ends
        # What those stops spared the engine, at most: each one's max_tokens less what it had written.
        self.early_stop_saved_tokens = 0
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.generated_tokens = 0
        self.wasted_tokens = 0

    def start(self, kind: str, tag: str | None = None, received_at: float | None = None) -> RequestTrace:
        """A trace whose time starts at ``received_at`` when the request's arrival is known, else now."""
        trace = RequestTrace(kind, next(self._ids), self._clock, started=received_at or 0.0, tag=tag)
        trace.mark("received", trace.started)
        if received_at is not None:
            trace.mark("handler_started")
        return trace

    def finish(self, trace: RequestTrace, outcome: str) -> RequestTrace:
        trace.outcome = outcome
        trace.mark("answered")
        self._traces.append(trace)
        if trace.kind == "completion":
            self.outcomes[outcome] += 1
        self.by_kind.setdefault(trace.kind, Counter())[outcome] += 1
        if not trace.engine_accounted:
            self.engine_work(
                trace.prompt_tokens,
                trace.cached_tokens,
                trace.generated_tokens,
                outcome if outcome in WASTEFUL_OUTCOMES else None,
            )
        return trace

    def early_stopped(self, unwritten: int) -> None:
        self.early_stops += 1
        self.early_stop_saved_tokens += max(0, unwritten)

    def engine_started(self, kind: str) -> None:
        self.engine_requests[kind] += 1

    def engine_work(self, prompt: int, cached: int, generated: int, wasted_reason: str | None) -> None:
        """One engine request ended; ``wasted_reason`` says why its output was thrown away, if it was."""
        self.prompt_tokens += prompt
        self.cached_tokens += cached
        self.generated_tokens += generated
        if wasted_reason:
            self.wasted_tokens += generated
            self.wasted_by_reason[wasted_reason] += generated

    def now(self) -> float:
        """The clock traces start on."""
        return self._clock()

    def recent(self, kind: str, count: int) -> list[RequestTrace]:
        """The last ``count`` finished traces of ``kind``, oldest first."""
        found: list[RequestTrace] = []
        for trace in reversed(self._traces):
            if trace.kind == kind:
                found.append(trace)
                if len(found) == count:
                    break
        return found[::-1]

    def traces(self, since: int = 0) -> list[dict[str, Any]]:
        return [t.as_dict() for t in list(self._traces) if t.id > since]

    def summary(self) -> dict[str, Any]:
        traces = list(self._traces)
        outcomes = dict(self.outcomes)
        stages: dict[str, list[float]] = {}
        waits: dict[str, list[float]] = {"debounce": [], "engine": []}
        for trace in traces:
            if trace.kind != "completion":
                continue
            for stage, ms in trace.marks.items():
                stages.setdefault(stage, []).append(ms)
            if trace.outcome in ANSWERED_OUTCOMES:
                waits["debounce"].append(trace.debounce_ms)
                waits["engine"].append(trace.engine_ms)
        requests = sum(outcomes.values())
        return {
            "requests": requests,
            "outcomes": outcomes,
            "stages_ms": {
                stage: {f"p{q}": percentile(stages[stage], q) for q in (50, 95, 99)}
                for stage in sorted(stages, key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES))
            },
            "waits_ms": {
                name: {f"p{q}": percentile(values, q) for q in (50, 95, 99)} for name, values in waits.items()
            },
            "cache_hit_rate": _ratio(outcomes.get("cache_hit", 0), requests),
            "reuse_rate": _ratio(outcomes.get("reused", 0), requests),
            "accepted": self.accepted,
            "early_stops": self.early_stops,
            "early_stop_saved_tokens": self.early_stop_saved_tokens,
            "by_kind": {kind: dict(counts) for kind, counts in list(self.by_kind.items())},
            "engine_requests": dict(self.engine_requests),
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "prefix_cache_hit_ratio": _ratio(self.cached_tokens, self.prompt_tokens),
            "generated_tokens": self.generated_tokens,
            "wasted_tokens": self.wasted_tokens,
            "wasted_by_reason": dict(self.wasted_by_reason),
            "wasted_tokens_ratio": _ratio(self.wasted_tokens, self.generated_tokens),
            "last_request": traces[-1].as_dict() if traces else None,
            # What a status bar shows: next edits and prefetches come between completions.
            "last_completion": next((t.as_dict() for t in reversed(traces) if t.kind == "completion"), None),
        }
