"""The embedded engine dies, freezes or cannot start: every request is still answered, the editor is told.

The crash and freeze tests share one ``aicockpit serve`` on the tiny model, with
the default process layout (vLLM's engine core, and the worker process under it
that runs the model), and do to those processes what a crash, an out-of-memory
kill or a hang would: SIGKILL, SIGSTOP. Each leaves the server serving again, as
it found it (a third engine start would cost ~18 s here), and the last ends it with
shutdown and exit while it generates. The tests of a model or
machine that cannot start run servers of their own. Conditions are waited for,
never slept: the figures printed (run with ``-s``) are this machine's.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from aicockpit.bench.client import LspClient, LspError
from tests.e2e.helpers import CHECKOUT, utf16
from tests.support import (
    EXIT_ALLOWED_S,
    ROOT,
    end_and_measure,
    ended,
    raw_session,
    serve_command,
    server_env,
    tiny_model,
    wait_engine_ready,
    wait_until,
)

CAPABILITIES = {"window": {"workDoneProgress": True}}
RESTART_TIMEOUT_S = 240
TEXT = CHECKOUT.read_text(encoding="utf-8")
ROW = TEXT.split("\n").index("        total = ")
WARNING, ERROR = 2, 1  # window/showMessage types


def engine_process(client: LspClient, name: str = "EngineCore") -> psutil.Process:
    """vLLM's engine core (a child process) or its worker (the core's child: it runs the model)."""
    found = [
        child
        for child in psutil.Process(client.pid).children(recursive=True)
        if name in child.name() and not ended(child)
    ]
    assert found, f"no {name} process"
    return found[0]


async def engine(client: LspClient) -> dict[str, Any]:
    return (await client.request("aicockpit/stats", None))["engine"]


def shown(client: LspClient, kind: int) -> list[str]:
    return [
        n["params"]["message"]
        for n in client.notifications
        if n["method"] == "window/showMessage" and n["params"]["type"] == kind
    ]


def progress(client: LspClient) -> list[dict[str, Any]]:
    return [n["params"]["value"] for n in client.notifications if n["method"] == "$/progress"]


def open_checkout(client: LspClient) -> str:
    uri = (ROOT / ".cache" / "tests" / f"engine-failures-{time.monotonic_ns()}.py").as_uri()
    document = {"uri": uri, "languageId": "python", "version": 1, "text": TEXT}
    client.notify("textDocument/didOpen", {"textDocument": document})
    return uri


async def complete(client: LspClient, uri: str) -> list[dict[str, Any]]:
    params = {
        "textDocument": {"uri": uri},
        "position": {"line": ROW, "character": utf16("        total = ")},
        "context": {"triggerKind": 2},
    }
    return (await client.request("textDocument/inlineCompletion", params, timeout=60))["items"]


@pytest.fixture(scope="module")
async def server():
    """The crash and freeze tests' server: long chats (a generation to kill), completions that
    give up after 1.5 s, and a breaker that tries again after 2 s."""
    options = {
        "chat": {"max_tokens": 4000},
        "completion": {"timeout_ms": 1500},
        "profiles": {"default": {"breaker_cooldown_s": 2}},
    }
    client = await raw_session(serve_command(worker_process=True), options=options, capabilities=CAPABILITIES)
    try:
        yield client
    finally:
        await client.close()


def assert_engine_niced(client: LspClient) -> None:
    server_nice = os.getpriority(os.PRIO_PROCESS, client.pid)  # the test run's own (0, unless run nice)
    for name in ("EngineCore", "Worker"):
        process = engine_process(client, name)
        nice = {t.id: os.getpriority(os.PRIO_PROCESS, t.id) for t in process.threads()}
        assert set(nice.values()) == {max(10, server_nice)}, (name, process.pid, nice)


async def test_the_engine_runs_at_a_lower_priority_than_the_server(server):
    """engine.cpu_nice (10): when the user types, the server and the editor get a core at once
    instead of waiting for the model's time slice. Every thread of both engine processes (the
    restarted engine's too: the next test)."""
    await wait_engine_ready(server)
    assert_engine_niced(server)


async def test_a_killed_engine_core_is_restarted_and_a_second_crash_backs_off(server):
    client = server
    await wait_engine_ready(client)
    restarts = (await engine(client))["restarts"]
    uri = open_checkout(client)
    chat_id, chat = client.send("aicockpit/chat", {"message": "Tell me a very long story."})

    async def generating() -> bool:
        return (await engine(client))["unfinished_requests"] > 0

    await wait_until(generating, 60, "a generation in flight")
    killed = time.perf_counter()
    engine_process(client).kill()
    # The request in flight is answered at once (the chat role's deadline is minutes away).
    answer, _ = await asyncio.wait_for(asyncio.shield(chat), 30)
    answered_s = time.perf_counter() - killed
    assert isinstance(answer, LspError) and "died" in str(answer), answer
    assert client.answers[chat_id] == 1

    # The server noticed, says so, restarts the engine with progress, and serves again.
    def restarted(count: int):
        async def check() -> bool:
            current = await engine(client)
            assert current["state"] != "failed", current
            return current["state"] == "ready" and current["restarts"] == count

        return check

    await wait_until(restarted(restarts + 1), RESTART_TIMEOUT_S, "the engine restarted")
    restart_s = time.perf_counter() - killed
    assert any("stopped unexpectedly" in m and "SIGKILL" in m for m in shown(client, WARNING)), list(
        client.notifications
    )
    messages = [value.get("message", "") for value in progress(client)]
    assert any(m.startswith("restarting") for m in messages), messages
    assert progress(client)[-1]["kind"] == "end"
    assert (await engine(client))["last_crash"].startswith("its engine core process ended")
    assert await complete(client, uri), "the next completion has a suggestion"
    assert_engine_niced(client)

    # A second crash soon after waits before restarting: no restart loop.
    killed = time.perf_counter()
    engine_process(client).kill()

    async def backing_off() -> bool:
        current = await engine(client)
        return current["state"] == "crashed" and "restarting it in 2 s" in current["message"]

    await wait_until(backing_off, 30, "the second restart waits 2 s", every_s=0.05)
    assert await complete(client, uri) == []  # answered meanwhile, empty
    await wait_until(restarted(restarts + 2), RESTART_TIMEOUT_S, "the engine restarted again")
    second_s = time.perf_counter() - killed
    assert await complete(client, uri)
    print(
        f"\nkilled mid-generation: the request answered in {answered_s:.2f} s;"
        f" serving again {restart_s:.1f} s after the kill; after a second kill {second_s:.1f} s"
    )


@pytest.mark.parametrize("frozen_process", ["EngineCore", "Worker"])
async def test_a_frozen_engine_answers_at_the_deadline_and_service_returns_when_it_resumes(
    server, frozen_process
):
    """The engine core frozen (SIGSTOP), or its worker while the core waits for it (spinning)."""
    client = server
    await wait_engine_ready(client)
    core = None
    try:
        # A fresh document for each request: the same one would be answered from its cache.
        assert await complete(client, open_checkout(client))
        core = engine_process(client, frozen_process)
        core.suspend()
        frozen = time.perf_counter()
        slowest = 0.0

        async def unhealthy() -> bool:
            nonlocal slowest
            started = time.perf_counter()
            assert await complete(client, open_checkout(client)) == []
            slowest = max(slowest, time.perf_counter() - started)
            current = await engine(client)
            return not current["healthy"] and current["breaker"] == "open" and bool(current["unresponsive"])

        await wait_until(unhealthy, 60, "stats show the engine unresponsive and its breaker open")
        detected_s = time.perf_counter() - frozen
        assert slowest < 1.5 + 1.0  # each answered by its deadline (and some at once, breaker open)
        core.resume()
        resumed = time.perf_counter()

        async def serving() -> bool:
            return bool(await complete(client, open_checkout(client)))

        await wait_until(serving, 60, "completions have suggestions again")
        back_s = time.perf_counter() - resumed

        async def healthy() -> bool:  # the watchdog's next look (every 0.5 s)
            current = await engine(client)
            return current["healthy"] and current["breaker"] == "closed" and not current["unresponsive"]

        await wait_until(healthy, 10, "stats show the engine healthy again")
        print(
            f"\n{frozen_process} frozen: unhealthy after {detected_s:.1f} s (each request answered within"
            f" {slowest:.2f} s); suggestions again {back_s:.1f} s after it resumed"
        )
    finally:
        if core is not None and core.is_running():
            core.resume()


def short_context_model(folder: Path, context: int) -> Path:
    """The tiny model with a shorter context than engine.max_model_len's default (8192)."""
    copy = folder / f"tiny-{context}"
    shutil.copytree(tiny_model(), copy)
    config = json.loads((copy / "config.json").read_text())
    config["max_position_embeddings"] = context
    (copy / "config.json").write_text(json.dumps(config))
    return copy


async def answered_while_failed(client: LspClient) -> None:
    """Every request is answered: a completion empty, a chat with an error saying why."""
    assert await complete(client, open_checkout(client)) == []
    try:
        await client.request("aicockpit/chat", {"message": "hello"})
        raise AssertionError("a chat without an engine is an error")
    except LspError as err:
        assert "not ready" in str(err)


async def failed_engine(client: LspClient) -> dict[str, Any]:
    async def failed() -> bool:
        return (await engine(client))["state"] == "failed"

    await wait_until(failed, 120, "the engine failed")
    return await engine(client)


async def test_shutdown_and_exit_while_generating_answer_the_request_in_flight(server):
    """The module's server ends here (its last test), in the middle of a long chat."""
    client = server
    await wait_engine_ready(client)
    chat_id, chat = client.send("aicockpit/chat", {"message": "Tell me a very long story."})

    async def generating() -> bool:
        return (await engine(client))["unfinished_requests"] > 0

    await wait_until(generating, 60, "a generation in flight")
    process_s, children_s = await end_and_measure(client, "shutdown+exit", "generating")
    assert chat.done() and client.answers[chat_id] == 1  # cancelled by shutdown, and said so
    assert client._transport.get_returncode() == 0
    assert process_s < EXIT_ALLOWED_S and children_s < EXIT_ALLOWED_S


async def test_a_missing_model_folder_says_what_and_how_to_fix_it(tmp_path):
    command = [sys.executable, "-m", "aicockpit", "serve", "--model", str(tmp_path / "no-such-model")]
    client = await raw_session(command)
    try:
        state = await failed_engine(client)
        assert "does not exist" in state["error"]
        await answered_while_failed(client)
        errors = shown(client, ERROR)
        # Given by flag: the message names the flag (the settings cannot override it).
        assert any("does not exist" in m and "--model" in m for m in errors), errors
    finally:
        await client.close()


async def test_not_enough_memory_for_the_kv_cache_says_what_and_how_to_fix_it():
    env = server_env()
    env.pop("VLLM_CPU_KVCACHE_SPACE", None)  # the setting must come from engine.cpu_kv_cache_gib
    client = await raw_session(serve_command(), options={"engine": {"cpu_kv_cache_gib": 100_000}}, env=env)
    try:
        state = await failed_engine(client)
        assert "not enough memory" in state["error"]
        await answered_while_failed(client)
        errors = shown(client, ERROR)
        assert any("not enough memory" in m and "engine.cpu_kv_cache_gib" in m for m in errors), errors
    finally:
        await client.close()


async def test_a_model_with_a_shorter_context_runs_with_its_own_length(tmp_path):
    model = short_context_model(tmp_path, 2048)
    command = [sys.executable, "-m", "aicockpit", "serve", "--model", str(model), "--enforce-eager"]
    command.append("--engine-in-process")  # ~6 s sooner ready; the process layout is not what this tests
    client = await raw_session(command)
    try:
        await wait_engine_ready(client)
        assert await complete(client, open_checkout(client))
        logged = [n["params"]["message"] for n in client.notifications if n["method"] == "window/logMessage"]
        assert any("allows 2048 tokens" in m and "using 2048" in m for m in logged), logged
    finally:
        await client.close()


def test_aicockpit_complete_runs_a_model_with_a_4096_token_context(tmp_path):
    model = short_context_model(tmp_path, 4096)
    source = tmp_path / "a.py"
    source.write_text("def add(a, b):\n    return \n")
    env = {**server_env(), "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT / "server"))}
    run = subprocess.run(
        [sys.executable, "-m", "aicockpit", "complete", str(source), "--line", "2", "--col", "12"]
        + ["--model", str(model), "--enforce-eager", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout)["outcome"] is not None
    assert "allows 4096 tokens" in run.stderr
