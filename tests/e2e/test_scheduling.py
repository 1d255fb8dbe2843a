"""The completion scheduler over LSP, against the real server and engine: bursts, acceptance, traces."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from lsprotocol import types

from tests.client import send_raw, to_json
from tests.conftest import INIT_OPTIONS
from tests.e2e.helpers import change, inline_params, open_doc
from tests.support import engine_idle, plain, stats, stats_where, wait_until

BODY = "def total_price(items, rate):\n    "
BURST = "subtotal = sum(item.price for item in items)"


def configure(client, **completion) -> None:
    # A settings change restates the whole section (decoded over the defaults).
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={**INIT_OPTIONS, "completion": {**INIT_OPTIONS["completion"], **completion}}
        )
    )


@asynccontextmanager
async def settings(client, **completion):
    configure(client, **completion)
    try:
        yield
    finally:
        configure(client)


async def test_a_burst_of_keystrokes_reaches_generation_once_and_nothing_stale_comes_back(ready):
    uri = open_doc(ready, BODY)
    # Back-to-back keystrokes all fall inside a 400 ms debounce, however busy this machine is.
    async with settings(ready, debounce_min_ms=400, debounce_max_ms=400, timeout_ms=30000):
        before = await stats(ready)
        pending = []
        for i, ch in enumerate(BURST):
            change(ready, uri, 2 + i, (1, 4 + i), (1, 4 + i), ch)
            params = to_json(inline_params(uri, 1, 5 + i))
            params["workDoneToken"] = f"burst-{i}"
            pending.append(send_raw(ready, types.TEXT_DOCUMENT_INLINE_COMPLETION, params))
        results = await asyncio.wait_for(asyncio.gather(*pending), 120)
        after = await stats(ready)

    def started(s):
        return s["engine_requests"].get("completion", 0)

    assert started(after) - started(before) == 1, (before["engine_requests"], after["engine_requests"])
    *older, last = [plain(r)["items"] for r in results]
    # Every superseded request was answered, and answered empty: its text no longer exists.
    assert all(items == [] for items in older)
    outcomes = {k: v - before["outcomes"].get(k, 0) for k, v in after["outcomes"].items()}
    assert outcomes.get("superseded", 0) == len(BURST) - 1, outcomes
    # The one that reached the engine answers at the cursor of the final text.
    for item in last:
        assert item["range"]["start"] == {"line": 1, "character": 4 + len(BURST)}
    traces = {t["tag"]: t for t in plain(await ready.protocol.send_request_async(
        "aicockpit/stats", {"traces_since": 0}))["traces"] if t["tag"]}  # fmt: skip
    final = traces[f"burst-{len(BURST) - 1}"]
    assert final["outcome"] in ("served", "empty") and final["debounce_ms"] == 400
    marks = final["timings_ms"]
    assert {"debounce_end", "context_built", "engine_enqueued", "answered"} <= set(marks)
    # Its clock started when it was read (with its didChange), before its handler ran: the
    # debounce counts from there (the unit test of the scheduler checks by how much).
    assert marks["received"] == 0 < marks["handler_started"] < marks["debounce_end"]


async def test_accepting_a_suggestion_prefetches_the_next_one(ready):
    uri = open_doc(ready, BODY)
    async with settings(ready, multiline="never", timeout_ms=30000):
        result = None
        for column in range(4):  # the tiny model may suggest only blanks at a position
            change(ready, uri, 2 + column, (1, 4 + column), (1, 4 + column), "x")
            result = await ready.text_document_inline_completion_async(inline_params(uri, 1, 5 + column))
            if result.items:
                break
        assert result.items, "no suggestion to accept"
        item = result.items[0]
        assert item.command.command == "aicockpit.accepted"
        before = await stats(ready)
        # The editor inserts the text, then runs the item's command.
        at = item.range.start
        change(ready, uri, 10, (at.line, at.character), (at.line, at.character), item.insert_text)
        answer = await ready.workspace_execute_command_async(
            types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
        )
        assert plain(answer) == {"prefetching": True}

        def prefetched(s):
            return s["by_kind"].get("prefetch", {}).get("served", 0)

        served = stats_where(ready, lambda s: prefetched(s) > prefetched(before))
        current = await wait_until(served, 60, "the prefetch to be served")
        assert prefetched(current) == prefetched(before) + 1, (current["by_kind"], current["last_request"])
        assert current["accepted"] == before["accepted"] + 1
        assert current["engine_requests"]["prefetch"] == before["engine_requests"].get("prefetch", 0) + 1


async def test_a_malformed_accept_command_gets_an_error_and_the_server_goes_on(ready):
    bad = {"command": "aicockpit.accepted", "arguments": [{"uri": 3}]}
    try:
        await asyncio.wait_for(send_raw(ready, types.WORKSPACE_EXECUTE_COMMAND, bad), 10)
        raise AssertionError("expected an error response")
    except Exception as err:  # noqa: BLE001 (any JSON-RPC error type)
        assert "$.uri" in str(err), err  # InvalidParams, naming the field
    assert (await stats(ready))["engine"]["state"] == "ready"


async def test_the_engine_is_warmed_up_once_ready(ready):
    warmed = stats_where(ready, lambda s: s["engine"]["warmup"] == "done")
    current = await wait_until(warmed, 60, "the warm-up")
    # Once per engine start (a profile switch back to the embedded model starts it again).
    assert current["engine_requests"]["warmup"] >= 1
    assert current["by_kind"]["warmup"]["served"] >= 1


LONG = "".join(
    f"def step_{i}(value, scale={i}):\n    total = value * scale\n    return total\n\n" for i in range(400)
)


async def test_a_missed_deadline_leaves_the_prefill_in_the_cache_for_the_next_request_there(ready):
    """The generation that missed its deadline runs on to its first token: vLLM keeps its KV blocks."""
    uri = open_doc(ready, LONG + "def last(value):\n    ")
    line, column = LONG.count("\n") + 1, 4
    # No repository context here: this is about the engine's cache, and a context chosen
    # differently by a loaded machine's time box would make the two prompts differ.
    configure(ready, timeout_ms=10)
    ready.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={
                **INIT_OPTIONS,
                "completion": {**INIT_OPTIONS["completion"], "timeout_ms": 10},
                "context": {"enabled": False},
            }  # fmt: skip
        )
    )
    try:
        params = to_json(inline_params(uri, line, column))
        params["workDoneToken"] = "missed"
        await asyncio.wait_for(send_raw(ready, types.TEXT_DOCUMENT_INLINE_COMPLETION, params), 60)
        # Its prefill finished (or it was aborted) in the engine.
        await wait_until(engine_idle(ready), 60, "no request left in the engine")
        ready.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={
                    **INIT_OPTIONS,
                    "completion": {**INIT_OPTIONS["completion"], "timeout_ms": 30000},
                    "context": {"enabled": False},
                }  # fmt: skip
            )
        )
        params["workDoneToken"] = "again"
        await asyncio.wait_for(send_raw(ready, types.TEXT_DOCUMENT_INLINE_COMPLETION, params), 60)
    finally:
        configure(ready)
    traces = {t["tag"]: t for t in (await stats_with_traces(ready)) if t["tag"] in ("missed", "again")}
    assert traces["missed"]["outcome"] == "timed_out"
    again = traces["again"]
    # Served by its own generation, or by the missed one's if that was still running.
    assert again["outcome"] in ("served", "empty", "reused") and again["prompt_tokens"] > 1000
    if again["outcome"] != "reused":  # (reused: nothing was prefilled twice at all)
        # vLLM's own count: all but the last KV block (32 tokens) came from the cache.
        assert again["cached_tokens"] >= again["prompt_tokens"] - 64, again


async def stats_with_traces(client) -> list[dict]:
    return plain(await client.protocol.send_request_async("aicockpit/stats", {"traces_since": 0}))["traces"]


async def test_huge_documents_a_long_line_and_minified_code_get_bounded_prompts_and_answers(ready):
    """Opened by mistake or not: pre-warmed, completed, and the server goes on, at the default limits."""
    documents = {
        "fifty_thousand": "".join(f"value_{i} = compute({i})\n" for i in range(50_000)),
        "one_long_line": "x = [" + ", ".join(str(i) for i in range(4000)) + "]",  # ~20,000 characters
        "minified": "function f(a){return a+1};" * 8000,  # one 200 KB line, as a .min.js is
    }
    served_before = (await stats(ready))["prewarm"]["outcomes"].get("served", 0)
    for name, text in documents.items():
        language = "javascript" if name == "minified" else "python"
        uri = open_doc(ready, text, name=name, language=language)
        lines = text.split("\n")
        end = {"line": len(lines) - 1, "character": len(lines[-1])}
        ready.protocol.notify("aicockpit/didFocus", {"textDocument": {"uri": uri}, "position": end})
        await wait_until(stats_where(ready, lambda s: not s["prewarm"]["running"]), 60, f"{name} pre-warmed")
        params = to_json(inline_params(uri, end["line"], end["character"]))
        params["context"]["triggerKind"] = 1  # Invoked
        params["workDoneToken"] = f"huge-{name}"
        await asyncio.wait_for(send_raw(ready, types.TEXT_DOCUMENT_INLINE_COMPLETION, params), 60)
        done = next(t for t in await stats_with_traces(ready) if t["tag"] == f"huge-{name}")
        assert done["outcome"] in ("served", "empty"), done
        assert done["prompt_tokens"] < 4096, done  # bounded by the budgets, whatever the file
    current = await stats(ready)
    assert current["engine"]["state"] == "ready"
    assert current["prewarm"]["outcomes"].get("served", 0) >= served_before + 1
    assert "error" not in current["prewarm"]["outcomes"]
