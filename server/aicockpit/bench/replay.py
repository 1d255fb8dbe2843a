"""Replays typing traces (fixtures/traces/*.json) the way an editor would, and measures.

Per keystroke: one ``didChange`` at the recorded interval, ``$/cancelRequest``
for the previous inline-completion request if it is still pending, and a new
request (tagged through its ``workDoneToken`` so the server's trace can be
matched). ``accept`` inserts the suggestion being shown and runs the item's
command, as VS Code does on Tab. For servers without inline completion
(tabby-agent 1.5.0) the request can be ``textDocument/completion`` instead; its
first item stands for the ghost text an editor would show.

Trace format: ``{"name", "description", "language", "text", "cursor" (a
character offset), "events": [[gap_ms, op, arg], ...]}`` with op one of
``type`` (text), ``delete`` (count, backwards), ``paste`` (text), ``move``
(offset) and ``accept``.
"""

from __future__ import annotations

import asyncio
import json
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aicockpit.bench.client import LspClient, LspError
from aicockpit.context.positions import LineIndex, Position
from aicockpit.telemetry import percentile

SETTLE_S = 15.0  # how long to wait for the last answers at the end of a trace
INLINE = "textDocument/inlineCompletion"
COMPLETION = "textDocument/completion"


@dataclass
class Sent:
    tag: str
    msg_id: int
    future: asyncio.Future[tuple[Any, float]]  # (result or LspError, when it arrived)
    sent_at: float
    version: int
    text: str
    offset: int
    cancelled: bool = False
    latency_ms: float | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    stale: bool = False
    judged: bool = False


def position_of(text: str, offset: int) -> dict[str, int]:
    at = LineIndex(text).position(offset)
    return {"line": at.line, "character": at.character}


def still_valid(sent: Sent, text: str, offset: int) -> str | None:
    """The part of ``sent``'s suggestion still to show on ``text``, or None if it no longer fits.

    A suggestion stays valid while the user types its start, and only then (the
    way editors keep ghost text on screen).
    """
    if not sent.items:
        return None
    insert: str = sent.items[0]["insertText"]
    typed = offset - sent.offset
    if typed < 0 or typed > len(insert) or len(text) != len(sent.text) + typed:
        return None
    if text != sent.text[: sent.offset] + insert[:typed] + sent.text[sent.offset :]:
        return None
    return insert[typed:]


def as_inserted(item: dict[str, Any], text: str, offset: int) -> dict[str, Any]:
    """A completion item as the ghost text it amounts to: what it adds at the cursor.

    Its edit may start before the cursor, at the word typed so far (tabby-agent's
    do, so that the editor's filter keeps the item): that part is in the text already.
    """
    edit = item.get("textEdit")
    if not edit:
        return {**item, "insertText": item.get("insertText") or item.get("label", "")}
    start = LineIndex(text).offset(Position(**edit["range"]["start"]))
    typed = text[start:offset] if start <= offset else ""
    new = edit["newText"]
    return {**item, "insertText": new[len(typed) :] if new.startswith(typed) else new}


class TraceReplay:
    def __init__(self, client: LspClient, trace: dict[str, Any], uri: str, method: str = INLINE) -> None:
        self.client = client
        self.method = method
        self.trace = trace
        self.uri = uri
        self.text: str = trace["text"]
        self.offset: int = trace["cursor"]
        self.version = 1
        self.sent: list[Sent] = []
        self.accepted = 0
        self.accept_missed = 0

    async def run(self) -> None:
        self.client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": self.uri,
                    "languageId": self.trace.get("language", "python"),
                    "version": self.version,
                    "text": self.text,
                }
            },
        )
        start = time.perf_counter()
        at = 0.0
        for gap_ms, op, *args in self.trace["events"]:
            at += gap_ms / 1000
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._apply(op, args[0] if args else None)
        pending = [s.future for s in self.sent if not s.future.done()]
        if pending:
            await asyncio.wait(pending, timeout=SETTLE_S)
        self.client.notify("textDocument/didClose", {"textDocument": {"uri": self.uri}})

    async def _apply(self, op: str, arg: Any) -> None:
        self._judge_arrived()
        if op == "type" or op == "paste":
            self._edit(self.offset, self.offset, arg)
        elif op == "delete":
            start = max(0, self.offset - int(arg))
            self._edit(start, self.offset, "")
        elif op == "move":
            self.offset = max(0, min(len(self.text), int(arg)))
        elif op == "accept":
            if not self._accept():
                self.accept_missed += 1
                return
        else:
            raise ValueError(f"unknown trace op {op!r}")
        self._request()

    def _edit(self, start: int, end: int, new_text: str) -> None:
        range_ = {"start": position_of(self.text, start), "end": position_of(self.text, end)}
        self.text = self.text[:start] + new_text + self.text[end:]
        self.offset = start + len(new_text)
        self.version += 1
        self.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"range": range_, "text": new_text}],
            },
        )

    def _accept(self) -> bool:
        """Tab: insert what is shown, then run the item's command (prefetch)."""
        for sent in reversed(self.sent):
            if not sent.future.done():
                continue
            rest = still_valid(sent, self.text, self.offset)
            if rest is None:
                return False
            self._edit(self.offset, self.offset, rest)
            command = sent.items[0].get("command")
            if command:
                self.client.send(
                    "workspace/executeCommand",
                    {"command": command["command"], "arguments": command.get("arguments", [])},
                )
            self.accepted += 1
            return True
        return False

    def _request(self) -> None:
        last = self.sent[-1] if self.sent else None
        if last is not None and not last.future.done():
            self.client.cancel(last.msg_id)  # as editors do when the text moves on
            last.cancelled = True
        tag = f"{self.trace['name']}-{len(self.sent)}"
        params = {
            "textDocument": {"uri": self.uri},
            "position": position_of(self.text, self.offset),
            # Inline: Automatic (as the user types). Completion: Invoked, which covers typing too.
            "context": {"triggerKind": 2 if self.method == INLINE else 1},
            "workDoneToken": tag,
        }
        sent_at = time.perf_counter()
        msg_id, future = self.client.send(self.method, params)
        sent = Sent(tag, msg_id, future, sent_at, self.version, self.text, self.offset)
        future.add_done_callback(lambda f: self._answered(sent, f))
        self.sent.append(sent)

    def _judge_arrived(self) -> None:
        """Judge answers that arrived before this keystroke against the text they arrived to.

        A future's done callback runs a loop turn after its result is set; the
        keystroke may come in between, and would make an answer that fitted look stale.
        """
        for sent in self.sent:
            if not sent.judged and sent.future.done():
                self._answered(sent, sent.future)

    def _answered(self, sent: Sent, future: asyncio.Future[tuple[Any, float]]) -> None:
        if sent.judged or future.cancelled() or future.exception() is not None:
            return
        sent.judged = True
        result, received = future.result()
        sent.latency_ms = (received - sent.sent_at) * 1000
        if isinstance(result, LspError) or not result:
            return
        sent.items = list(result.get("items", []) if isinstance(result, dict) else result)
        if self.method == COMPLETION:
            sent.items = [as_inserted(item, sent.text, sent.offset) for item in sent.items]
        # Stale: a suggestion that does not fit the text the user has now.
        sent.stale = bool(sent.items) and still_valid(sent, self.text, self.offset) is None


SPLIT_QS = (50, 90, 99)


def quantiles(values: list[float], qs: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    return {f"p{q}": round(percentile(values, q), 2) for q in qs}


def _delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    change: int = after.get(key, 0) - before.get(key, 0)
    return change


def _counter_delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in sorted(after.items()) if v - before.get(k, 0)}


def measure(
    replay: TraceReplay, traces: dict[str, dict[str, Any]], before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """Figures for one replayed trace, from the client's timings and the server's traces."""
    timed = [(s, s.latency_ms) for s in replay.sent if not s.cancelled and s.latency_ms is not None]
    answered = [sent for sent, _ in timed]
    latency = [ms for _, ms in timed]
    overhead: list[float] = []
    engine: list[float] = []
    before_call: list[float] = []
    after_answer: list[float] = []
    for sent, latency_ms in timed:
        trace = traces.get(sent.tag)
        if trace is not None:
            overhead.append(max(0.0, latency_ms - trace["debounce_ms"] - trace["engine_ms"]))
            engine.append(trace["engine_ms"])
            ahead, behind = split_overhead(trace, latency_ms)
            if ahead is not None:
                before_call.append(ahead)
            if behind is not None:
                after_answer.append(behind)
    prompt = _delta(after, before, "prompt_tokens")
    generated = _delta(after, before, "generated_tokens")
    # Repository context in the prompts this trace's requests built (evidence it was there).
    context = [len(traces[s.tag]["context"]) for s in answered if s.tag in traces]
    return {
        "keystroke_requests": len(replay.sent),
        "cancelled_by_client": sum(s.cancelled for s in replay.sent),
        "answered": len(answered),
        "with_suggestion": sum(bool(s.items) for s in answered),
        "accepted": replay.accepted,
        "accept_missed": replay.accept_missed,
        "e2e_latency_ms": quantiles(latency),
        "server_overhead_ms": quantiles(overhead, SPLIT_QS),
        "before_engine_call_ms": quantiles(before_call, SPLIT_QS),
        "after_engine_answer_ms": quantiles(after_answer, SPLIT_QS),
        "engine_wait_ms": quantiles(engine, (50, 99)),
        "prefix_cache_hit_ratio": round(_delta(after, before, "cached_tokens") / prompt, 4)
        if prompt
        else 0.0,
        "mean_prompt_tokens": round(
            prompt
            / max(1, sum(_counter_delta(after["engine_requests"], before["engine_requests"]).values())),
            1,
        ),
        "mean_context_snippets": round(sum(context) / len(context), 2) if context else 0.0,
        "wasted_tokens_ratio": round(_delta(after, before, "wasted_tokens") / generated, 4)
        if generated
        else 0.0,
        "generated_tokens": generated,
        "stale_responses": sum(s.stale for s in replay.sent if not s.cancelled),
        # Answers that crossed the client's $/cancelRequest in the pipe; editors drop these.
        "stale_responses_to_cancelled": sum(s.stale for s in replay.sent if s.cancelled),
        "outcomes": _counter_delta(after["outcomes"], before["outcomes"]),
        "engine_requests": _counter_delta(after["engine_requests"], before["engine_requests"]),
        "_latency": latency,
        "_overhead": overhead,
        "_before": before_call,
        "_after": after_answer,
    }


def split_overhead(trace: dict[str, Any], latency_ms: float) -> tuple[float | None, float | None]:
    """The server's time before the engine call and after its answer, for one answered request.

    Before: received -> the request written to a remote backend (``request_sent``;
    embedded: queued, ``engine_enqueued``), less the debounce; only for requests
    that started their own generation. After: the last needed byte (``last_token``)
    -> the answer's arrival at the client, so it holds the pipe both ways too.
    """
    marks = trace["timings_ms"]
    before = None
    if "engine_enqueued" in marks:  # it started its own generation (not reused, not from the cache)
        before = max(0.0, marks.get("request_sent", marks["engine_enqueued"]) - trace["debounce_ms"])
    after = max(0.0, latency_ms - marks["last_token"]) if "last_token" in marks else None
    return before, after


def overall(results: dict[str, dict[str, Any]], totals: dict[str, int]) -> dict[str, Any]:
    latency = [v for r in results.values() for v in r["_latency"]]
    overhead = [v for r in results.values() for v in r["_overhead"]]
    before = [v for r in results.values() for v in r["_before"]]
    after = [v for r in results.values() for v in r["_after"]]
    outcomes: dict[str, int] = {}
    for r in results.values():
        for k, v in r["outcomes"].items():
            outcomes[k] = outcomes.get(k, 0) + v
    return {
        "e2e_latency_ms": quantiles(latency),
        "server_overhead_ms": quantiles(overhead, SPLIT_QS),
        "before_engine_call_ms": quantiles(before, SPLIT_QS),
        "after_engine_answer_ms": quantiles(after, SPLIT_QS),
        "prefix_cache_hit_ratio": round(totals["cached"] / totals["prompt"], 4) if totals["prompt"] else 0.0,
        "prompt_tokens": totals["prompt"],
        "cached_tokens": totals["cached"],
        "wasted_tokens_ratio": round(totals["wasted"] / totals["generated"], 4)
        if totals["generated"]
        else 0.0,
        "stale_responses": sum(r["stale_responses"] for r in results.values()),
        "outcomes": dict(sorted(outcomes.items())),
    }


def outside_view(sent: list[Sent], answers: list[tuple[float, float]]) -> dict[str, Any]:
    """The server's overhead seen from its two ends, without the server's own clock.

    Each answered request is paired with the one backend request that arrived while
    it was in flight (requests answered from the cache or from another request's
    generation have none); its overhead is its latency less the backend's own time,
    from having read the request to having written the answer's last token. The
    client and the backend read one clock: ``perf_counter`` is system-wide monotonic.
    """
    answers = sorted(answers)
    reads = [read for read, _ in answers]
    overhead: list[float] = []
    before: list[float] = []
    after: list[float] = []
    for request in sent:
        if request.cancelled or request.latency_ms is None:
            continue
        done = request.sent_at + request.latency_ms / 1000
        first, end = bisect_left(reads, request.sent_at), bisect_right(reads, done)
        if end - first != 1 or answers[first][1] > done:
            continue
        read, written = answers[first]
        overhead.append(request.latency_ms - (written - read) * 1000)
        before.append((read - request.sent_at) * 1000)
        after.append((done - written) * 1000)
    return {
        "matched_requests": len(overhead),
        "server_overhead_ms": quantiles(overhead, SPLIT_QS),
        "before_backend_read_ms": quantiles(before, SPLIT_QS),
        "after_backend_wrote_ms": quantiles(after, SPLIT_QS),
    }


def load_traces(paths: list[Path]) -> list[dict[str, Any]]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    if not files:
        raise ValueError("no trace files found")
    traces = []
    for file in files:
        try:
            trace = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read trace {file}: {err}") from None
        missing = {"name", "text", "cursor", "events"} - set(trace)
        if missing:
            raise ValueError(f"trace {file} lacks {sorted(missing)}")
        traces.append(trace)
    return traces
