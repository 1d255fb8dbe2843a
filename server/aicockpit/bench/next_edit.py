"""Replays editing traces (fixtures/traces/next_edit/*.json, and bench/real_edits.py's traces
cut from real code) against ``aicockpit/nextEdit``.

The edits are sent as an editor sends them (no ghost-text requests); at each
``suggest`` event the replay asks for a next edit at the cursor and waits for it,
timing it from the edit to the suggestion. A ``suggest`` argument ``{"line",
"contains"}`` says what a good suggestion leaves on that line; it scores the
suggestions (on a model that writes noise, none will match: the figures are
then about latency and tokens).

A ``walk`` event (argument: the changes ``[start, end, text]`` the user would make next,
in any order) asks for a next edit until every change is made. Each answer is right (it
makes exactly one of the changes still to make: the user takes it), wrong (anything
else: the user makes a change of their own instead) or absent (nothing: the user makes
one); once none is left, one more is asked, and any answer then is wrong (``extra``).
"""

from __future__ import annotations

import time
from typing import Any

from aicockpit.bench.client import LspClient, LspError
from aicockpit.bench.replay import TraceReplay, position_of, quantiles
from aicockpit.context.positions import LineIndex, Position


class NextEditReplay(TraceReplay):
    def __init__(self, client: LspClient, trace: dict[str, Any], uri: str) -> None:
        super().__init__(client, trace, uri)
        self.asked: list[dict[str, Any]] = []
        self.walked: list[dict[str, Any]] = []  # one per answer of a ``walk``

    async def _apply(self, op: str, arg: Any) -> None:
        if op == "suggest":
            await self._suggest(arg)
        elif op == "walk":
            await self._walk([tuple(change) for change in arg])
        elif op == "type" or op == "paste":
            self._edit(self.offset, self.offset, arg)
        elif op == "delete":
            self._edit(max(0, self.offset - int(arg)), self.offset, "")
        elif op == "move":
            self.offset = max(0, min(len(self.text), int(arg)))
        else:
            raise ValueError(f"unknown editing-trace op {op!r}")

    async def _ask(self) -> tuple[dict[str, Any], float]:
        params = {"textDocument": {"uri": self.uri}, "position": position_of(self.text, self.offset)}
        started = time.perf_counter()
        try:
            result = await self.client.request("aicockpit/nextEdit", params, timeout=120)
        except LspError:
            result = {"edits": []}
        return result, (time.perf_counter() - started) * 1000

    async def _walk(self, remaining: list[tuple[int, int, str]]) -> None:
        kind = self.trace.get("kind", "")
        for _ in range(2 * len(remaining) + 1):
            result, latency = await self._ask()
            edits = _offsets(self.text, result.get("edits") or [])
            step = {"kind": kind, "source": result.get("source"), "latency_ms": latency}
            if not remaining:
                if edits:
                    self.walked.append({**step, "outcome": "extra"})
                return
            made = _apply_offsets(self.text, edits) if edits else None
            taken = next((c for c in remaining if made == _apply_offsets(self.text, [c])), None)
            step["outcome"] = "absent" if not edits else "right" if taken else "wrong"
            self.walked.append(step)
            if taken is None:  # the user makes one of the changes by hand
                taken, edits = remaining[0], [remaining[0]]
            remaining.remove(taken)
            for start, end, text in sorted(edits, reverse=True):
                delta = len(text) - (end - start)
                remaining = [(s + delta, e + delta, t) if s >= end else (s, e, t) for s, e, t in remaining]
                self._edit(start, end, text)
            self.offset = max(edits)[0] + len(max(edits)[2])

    async def _suggest(self, expect: dict[str, Any] | None) -> None:
        result, latency = await self._ask()
        edits = result.get("edits") or []
        self.asked.append(
            {
                "latency_ms": latency,
                "edits": len(edits),
                "matched": bool(edits) and expect is not None and _matches(self.text, edits, expect),
                "expected": expect is not None,
            }
        )


def _offsets(text: str, edits: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    lines = LineIndex(text)
    out = []
    for edit in edits:
        start, end = edit["range"]["start"], edit["range"]["end"]
        out.append(
            (
                lines.offset(Position(start["line"], start["character"])),
                lines.offset(Position(end["line"], end["character"])),
                edit["newText"],
            )
        )
    return out


def _apply_offsets(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def measure_walks(replays: list[NextEditReplay]) -> dict[str, Any]:
    """Per kind of trace: the shares of answers right, wrong and absent while a change was left
    to make, the extra ones after, and the time to each answer (structural answers apart)."""
    steps = [s for r in replays for s in r.walked]
    report: dict[str, Any] = {}
    for kind in sorted({s["kind"] for s in steps}):
        mine = [s for s in steps if s["kind"] == kind]
        scored = [s for s in mine if s["outcome"] != "extra"]
        counts = {o: sum(s["outcome"] == o for s in scored) for o in ("right", "wrong", "absent")}
        structural = [s["latency_ms"] for s in mine if s["source"] in ("rename", "repeat")]
        report[kind] = {
            "traces": sum(any(s["kind"] == kind for s in r.walked) for r in replays),
            "answers": len(scored),
            **counts,
            **{f"{o}_share": round(n / len(scored), 3) if scored else None for o, n in counts.items()},
            "extra_after_done": sum(s["outcome"] == "extra" for s in mine),
            "by_source": {
                source: sum(s["source"] == source and s["outcome"] != "absent" for s in mine)
                for source in ("rename", "repeat", "model")
            },
            "structural_answer_ms": quantiles(structural, (50, 99)) if structural else None,
            "any_answer_ms": quantiles([s["latency_ms"] for s in mine], (50, 99)),
        }
    return report


def _matches(text: str, edits: list[dict[str, Any]], expect: dict[str, Any]) -> bool:
    """Does the document, with the edits applied, have the expected text on the expected line?"""
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]))[
        ::-1
    ]:
        start, end = edit["range"]["start"], edit["range"]["end"]
        if start["line"] != end["line"] or start["line"] >= len(lines):
            return False  # several lines: not what these traces expect
        line = lines[start["line"]]
        lines[start["line"]] = line[: start["character"]] + edit["newText"] + line[end["character"] :]
    return expect["line"] < len(lines) and expect["contains"] in lines[expect["line"]]


def measure_next_edit(
    replays: list[NextEditReplay], before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    asked = [a for r in replays for a in r.asked]
    counts_before, counts_after = before.get("next_edit", {}), after.get("next_edit", {})

    def delta(key: str) -> int:
        return (counts_after.get(key) or 0) - (counts_before.get(key) or 0)

    generations = max(1, delta("suggested") + delta("no_edit") + delta("stale"))
    expected = [a for a in asked if a["expected"]]
    return {
        "requests": len(asked),
        "with_edits": sum(a["edits"] > 0 for a in asked),
        "matched_expected": f"{sum(a['matched'] for a in expected)}/{len(expected)}",
        "edit_to_suggestion_ms": quantiles([a["latency_ms"] for a in asked], (50, 95)),
        "mean_prompt_tokens": round(delta("prompt_tokens") / generations, 1),
        "mean_generated_tokens": round(delta("generated_tokens") / generations, 1),
        "outcomes": {k: delta(k) for k in ("suggested", "no_edit", "stale", "superseded") if delta(k)},
    }
