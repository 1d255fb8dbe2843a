"""Replays editing traces (fixtures/traces/next_edit/*.json) against ``aicockpit/nextEdit``.

The edits are sent as an editor sends them (no ghost-text requests); at each
``suggest`` event the replay asks for a next edit at the cursor and waits for it,
timing it from the edit to the suggestion. A ``suggest`` argument ``{"line",
"contains"}`` says what a good suggestion leaves on that line; it scores the
suggestions (on a model that writes noise, none will match: the figures are
then about latency and tokens).
"""

from __future__ import annotations

import time
from typing import Any

from aicockpit.bench.client import LspClient, LspError
from aicockpit.bench.replay import TraceReplay, position_of, quantiles


class NextEditReplay(TraceReplay):
    def __init__(self, client: LspClient, trace: dict[str, Any], uri: str) -> None:
        super().__init__(client, trace, uri)
        self.asked: list[dict[str, Any]] = []

    async def _apply(self, op: str, arg: Any) -> None:
        if op == "suggest":
            await self._suggest(arg)
        elif op == "type" or op == "paste":
            self._edit(self.offset, self.offset, arg)
        elif op == "delete":
            self._edit(max(0, self.offset - int(arg)), self.offset, "")
        elif op == "move":
            self.offset = max(0, min(len(self.text), int(arg)))
        else:
            raise ValueError(f"unknown editing-trace op {op!r}")

    async def _suggest(self, expect: dict[str, Any] | None) -> None:
        params = {"textDocument": {"uri": self.uri}, "position": position_of(self.text, self.offset)}
        started = time.perf_counter()
        try:
            result = await self.client.request("aicockpit/nextEdit", params, timeout=120)
        except LspError:
            result = {"edits": []}
        edits = result.get("edits") or []
        self.asked.append(
            {
                "latency_ms": (time.perf_counter() - started) * 1000,
                "edits": len(edits),
                "matched": bool(edits) and expect is not None and _matches(self.text, edits, expect),
                "expected": expect is not None,
            }
        )


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
