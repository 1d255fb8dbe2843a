"""Shared helpers for the tests: the tiny and the small model, the server command, raw messages."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aicockpit.bench.client import LspClient
from aicockpit.features.params import plain  # custom-request results arrive as named tuples

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "fixtures" / "workspaces" / "python"
ENGINE_READY_TIMEOUT_S = 300


def tiny_model() -> Path:
    """The tiny fixture model, built on first use (deterministic, cached)."""
    sys.path.insert(0, str(ROOT / "fixtures" / "tiny_model"))
    try:
        import build
    finally:
        sys.path.pop(0)
    return build.ensure()


def small_model() -> Path:
    """SmolLM2-135M-Instruct, a real model (real code, slower than the tiny one), as setup.sh converted it.

    Missing means the setup is incomplete: fail and say so, never skip, or the tests that
    need a real model would quietly stop running.
    """
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import convert_smollm2
    finally:
        sys.path.pop(0)
    folder = convert_smollm2.DEFAULT_OUT
    if not convert_smollm2.marker_matches(folder):
        pytest.fail(
            f"the small model {folder} is missing, incomplete or out of date: run `bash scripts/setup.sh`",
            pytrace=False,
        )
    return folder


# One scratch area per test run: a copy of the fixture workspace (tests edit it, and
# add a symlink that points out of it) and the user cache the servers write to.
RUN_DIR = ROOT / ".cache" / "tests" / f"run-{os.getpid()}"


def scratch_workspace() -> Path:
    workspace = RUN_DIR / "workspace"
    if not workspace.exists():
        shutil.copytree(WORKSPACE, workspace)
        (workspace / ".env").write_text("API_KEY=do-not-send\n")
        # A project root marker, as a user's checkout has: editors that find the root
        # themselves (Neovim's vim.fs.root) stop here, not at this repository's root.
        (workspace / ".git").mkdir()
    return workspace


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(RUN_DIR / "xdg")
    env["AICOCKPIT_CACHE_DIR"] = str(RUN_DIR / "aicockpit")  # index, chat sessions, usage: this run's own
    env.setdefault("VLLM_CACHE_ROOT", str(ROOT / ".cache" / "vllm"))
    env.setdefault("HF_HOME", str(ROOT / ".cache" / "huggingface"))
    return env


def serve_command(*extra: str, worker_process: bool = False) -> list[str]:
    """``aicockpit serve`` on the tiny model, started for speed (no CUDA graphs, a short context).

    vLLM's engine core always has a process of its own; by default the model then runs in
    a worker process under it. Here the core runs the model itself (``--engine-in-process``):
    one process fewer to spawn and import torch into, ~6 s sooner ready on this CPU. The
    tests of what happens to those processes (killed, frozen, ended) pass ``worker_process``
    to get the default layout, as do the tests that measure the default settings.
    """
    layout = () if worker_process else ("--engine-in-process",)
    return [
        sys.executable, "-m", "aicockpit", "serve",
        "--model", str(tiny_model()), "--enforce-eager", "--max-model-len", "4096",
        *layout, *extra,
    ]  # fmt: skip


async def stats(client) -> dict[str, Any]:
    """aicockpit/stats from a pytest-lsp client, or from an ``LspClient`` (``raw_session``)."""
    if isinstance(client, LspClient):
        return await client.request("aicockpit/stats", None)
    return plain(await client.protocol.send_request_async("aicockpit/stats", None))


def stats_where(client, check: Callable[[dict[str, Any]], Any]) -> Callable[[], Any]:
    """A condition for ``wait_until``: the server's stats, once ``check`` holds for them."""

    async def condition() -> dict[str, Any] | None:
        current = await stats(client)
        return current if check(current) else None

    return condition


def engine_idle(client) -> Callable[[], Any]:
    """A condition for ``wait_until``: the stats, once vLLM holds no request."""
    return stats_where(client, lambda s: s["engine"]["unfinished_requests"] == 0)


async def wait_engine_ready(client, timeout: float = ENGINE_READY_TIMEOUT_S) -> dict[str, Any]:
    """Until the engine is loaded and warmed up (its stats then), or has failed (an assertion)."""

    def settled(current: dict[str, Any]) -> bool:
        engine = current["engine"]
        warm = engine["state"] == "ready" and engine.get("warmup") not in ("pending", "running")
        return warm or engine["state"] == "failed"

    current = await wait_until(stats_where(client, settled), timeout, "the engine to load and warm up", 0.25)
    assert current["engine"]["state"] == "ready", current["engine"]
    return current


async def raw_session(
    command: list[str],
    root: Path | None = None,
    options: Any = None,
    stderr: Any = subprocess.DEVNULL,
    capabilities: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> LspClient:
    """A server driven byte by byte (tests/hostile.py, the exit tests): initialized, engine loading."""
    client = await LspClient.spawn(command, env or server_env(), stderr=stderr)
    root_uri = (root or scratch_workspace()).as_uri()
    params = {"processId": None, "rootUri": root_uri, "capabilities": capabilities or {}}
    await client.request("initialize", {**params, "initializationOptions": options or {}}, timeout=60)
    client.notify("initialized", {})
    return client


async def wait_until(condition: Callable[[], Any], timeout: float, what: str, every_s: float = 0.1) -> Any:
    """Call ``condition`` (a plain or an async function) every ``every_s`` until it returns
    something truthy, and return that; after ``timeout`` s fail, saying ``what``.

    The one way the tests wait for an event (tests/e2e/vscode.py has its synchronous twin
    for Selenium): a test never sleeps for a time and hopes the event came meanwhile.
    """
    try:
        async with asyncio.timeout(timeout) as deadline:
            while not (value := await _result(condition())):
                await asyncio.sleep(every_s)
            return value
    except TimeoutError:
        if not deadline.expired():  # the condition's own TimeoutError, not ours
            raise
        raise AssertionError(f"waited {timeout:g} s for {what}") from None


async def _result(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


EXIT_ALLOWED_S = 3.0  # the target is 1 s; the margin is for a loaded 2-core machine
# A cancelled generation leaves vLLM within this (the stats it is read from included): well
# under what the rest of the tests' 1000-token generations would take (the tiny model decodes
# ~3.5 ms a token here, SmolLM2 ~28 ms), so one that ran on to its end fails the wait. No
# stats field counts aborts: the time bound is the evidence.
ABORT_ALLOWED_S = 1.0


def ended(process) -> bool:
    """A psutil process gone, or a zombie: dead, waiting for a parent (init, for orphans) to collect it."""
    import psutil

    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def descendants(pid: int) -> list[Any]:
    import psutil

    return psutil.Process(pid).children(recursive=True)


async def end_and_measure(client: LspClient, how: str, label: str) -> tuple[float, float]:
    """End the server ``how`` (exit, shutdown+exit, end of input, SIGTERM); seconds until the
    process ended, and until every descendant had."""
    import psutil

    children = descendants(client.pid)
    assert children or how == "exit", "an engine process to leave behind"
    if how == "shutdown+exit":
        await client.request("shutdown", None, timeout=10)
    started = time.perf_counter()
    if how in ("exit", "shutdown+exit"):
        client.notify("exit", None)
    elif how == "end of input":
        client.close_input()
    else:
        psutil.Process(client.pid).send_signal(signal.SIGTERM)
    await asyncio.wait_for(asyncio.shield(client._pipes.exited), 30)
    process_s = time.perf_counter() - started
    await wait_ended(children)
    children_s = time.perf_counter() - started
    figures = f"process ended in {process_s:.2f} s, its {len(children)} children in {children_s:.2f} s"
    print(f"\n{label}, {how}: {figures}")
    return process_s, children_s


async def wait_ended(processes: list[Any], timeout: float = 30) -> None:
    """Until every one of the psutil ``processes`` has ended, looked at every 10 ms (the exit
    tests time it); those left at the timeout are named in the failure, and killed."""
    import psutil

    try:
        await wait_until(lambda: all(ended(p) for p in processes), timeout, "the processes to end", 0.01)
    except AssertionError as err:
        left = []
        for process in processes:
            with contextlib.suppress(psutil.Error):  # it may end meanwhile
                if not ended(process):
                    left.append(" ".join(process.cmdline()))
                    process.kill()
        raise AssertionError(f"{err}; left: {left}") from None
