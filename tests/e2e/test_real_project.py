"""What a new user gets: the README's real model (SmolLM2-135M-Instruct) with default settings, on real
files of a real package (thousands of lines), on this CPU, over LSP.

No time limit is raised here: the budgets and deadlines the server sizes from its
own measurement of the engine are what is tested. The server's log is kept, to
check that the healthy local engine was never retried or taken out by its breaker.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest

from tests.support import (
    RUN_DIR,
    engine_idle,
    raw_session,
    serve_command,
    small_model,
    stats_where,
    wait_engine_ready,
    wait_until,
)

PACKAGES = Path(sysconfig.get_paths()["purelib"])
CUTS = 3  # statements of httpx/_client.py cut after "return ": the user stops there and asks
CAPABILITIES = {"textDocument": {"inlineCompletion": {}, "synchronization": {}}}


@pytest.fixture(scope="module")
async def smol():
    root = RUN_DIR / "real-project"
    shutil.rmtree(root, ignore_errors=True)
    for package in ("httpx", "click"):
        shutil.copytree(PACKAGES / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".git").mkdir()
    log = RUN_DIR / "real-project.log"
    command = serve_command("--log-level", "info", worker_process=True)  # the default settings
    command[command.index("--model") + 1] = str(small_model())
    command[command.index("--max-model-len") : command.index("--max-model-len") + 2] = []  # the default
    with open(log, "wb") as stderr:
        client = await raw_session(command, root, options={}, stderr=stderr, capabilities=CAPABILITIES)
    await wait_engine_ready(client)
    yield client, root, log
    await client.request("shutdown", None)
    client.notify("exit", None)
    await client.close()


def open_file(client, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    text = path.read_text() if text is None else text
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    return uri


async def invoke(client, uri: str, line: int, character: int, tag: str) -> list[dict]:
    params = {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1},  # Invoked: the user asked
        "workDoneToken": tag,
    }
    return (await client.request("textDocument/inlineCompletion", params, timeout=300))["items"]


async def trace(client, tag: str) -> dict:
    traces = (await client.request("aicockpit/stats", {"traces_since": 0}))["traces"]
    return next(t for t in traces if t["tag"] == tag)


async def prewarm_status(client) -> dict:
    return (await client.request("aicockpit/stats", None))["prewarm"]


async def test_invoked_completions_in_a_real_file_show_text_with_the_default_settings(smol):
    client, root, log = smol
    path = root / "httpx" / "_client.py"
    lines = path.read_text().split("\n")
    assert len(lines) > 1000
    cut = [n for n, line in enumerate(lines) if line.startswith("        return self._")][2 : 2 + CUTS]
    for number in cut:
        lines[number] = lines[number][: lines[number].index("return ") + len("return ")]
    uri = open_file(client, path, "\n".join(lines))
    shown = 0
    for number in cut:
        items = await invoke(client, uri, number, len(lines[number]), f"cut-{number}")
        done = await trace(client, f"cut-{number}")
        # Answered, not ended by a deadline sized for a GPU; what the model wrote may still be
        # nothing usable at a place, so the text itself is counted below.
        assert done["outcome"] in ("served", "empty"), done
        assert done["prompt_tokens"] > 200, done  # the real file, not a toy prompt
        shown += bool(items and items[0]["insertText"].strip())
    assert shown >= 2, f"only {shown} of {CUTS} invoked completions showed text"
    stats = await client.request("aicockpit/stats", None)
    completion = stats["roles"]["completion"]
    assert completion["budget"]["source"] == "measured" and completion["speed"]["prefill_tokens_per_s"]
    assert stats["backends"]["default"]["breaker"] == "closed"
    text = log.read_text(errors="replace")
    assert "retrying" not in text and "breaker open" not in text  # a local engine is not a flaky network


async def test_the_first_suggestion_after_opening_a_file_is_a_cached_one(smol):
    client, root, _ = smol
    path = root / "click" / "core.py"
    lines = path.read_text().split("\n")
    line = next(n for n in range(2000, len(lines)) if lines[n].strip().startswith("return "))
    uri = open_file(client, path)
    before = (await prewarm_status(client))["outcomes"].get("served", 0)
    # What the editor integrations send when a document is shown and where its cursor is.
    at = {"line": line, "character": len(lines[line])}
    client.notify("aicockpit/didFocus", {"textDocument": {"uri": uri}, "position": at})
    warmed = stats_where(client, lambda s: s["prewarm"]["outcomes"].get("served", 0) > before)
    await wait_until(warmed, 120, "the file pre-warmed")
    await invoke(client, uri, line, len(lines[line]), "after-open")
    first = await trace(client, "after-open")
    assert first["outcome"] in ("served", "empty"), first
    # vLLM's own count: the file above the cursor's line was prefilled before the user paused.
    warm = (await prewarm_status(client))["last"]
    assert first["cached_tokens"] >= first["prompt_tokens"] - 96, (first, warm)


async def test_pre_warming_steps_aside_for_a_real_request_and_ends_with_its_document(smol):
    client, root, _ = smol
    path = root / "click" / "types.py"
    lines = path.read_text().split("\n")
    uri = open_file(client, path)
    target = min(len(lines) - 2, 900)

    async def running(line: int) -> None:
        client.notify(
            "aicockpit/didFocus", {"textDocument": {"uri": uri}, "position": {"line": line, "character": 0}}
        )
        await wait_until(stats_where(client, lambda s: s["prewarm"]["running"]), 120, "a pre-warm", 0.02)

    await running(target)
    await invoke(client, uri, 40, len(lines[40]), "real")  # elsewhere, while the pre-warm runs
    warm = (await prewarm_status(client))["last"]
    assert warm["outcome"] == "yielded", warm
    # It stopped at once: the chunk that was in the engine was aborted, no further one started.
    assert warm["chunks_started"] <= warm["chunks"] + 1 and warm["chunks"] < warm["chunk_ends"], warm
    assert (await trace(client, "real"))["outcome"] in ("served", "empty")

    await running(target + 64)  # another part of the file: another pre-warm
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    await wait_until(
        stats_where(client, lambda s: not s["prewarm"]["running"]), 30, "the pre-warm to end", 0.02
    )
    assert (await prewarm_status(client))["last"]["outcome"] == "cancelled"
    # And nothing of it is left in the engine.
    await wait_until(engine_idle(client), 30, "no request left in the engine")
