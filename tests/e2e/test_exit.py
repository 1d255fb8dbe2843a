"""The server ends within a second in every state, and leaves no child process.

Each test runs its own ``aicockpit serve`` on the tiny model, brings it to a state
(index crawling, engine loading, generating), ends it (``exit`` with or without
``shutdown``, the end of input, SIGTERM) and measures, with psutil, when the process
and all of its descendants are gone. The assertion allows 3 s for a loaded machine;
the figures printed are the real ones (run with ``-s``). The idle state is
test_lifecycle.py's.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import psutil
import pytest

from aicockpit.bench.client import LspClient
from tests.support import (
    EXIT_ALLOWED_S,
    ended,
    raw_session,
    serve_command,
    wait_ended,
    wait_engine_ready,
    wait_until,
)

ENGINE_PROCESS_TIMEOUT_S = 180


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


async def engine_process_runs(client: LspClient) -> bool:
    """vLLM's engine core has started: the model is loading in a child process."""
    return any("EngineCore" in child.name() for child in descendants(client.pid) if not ended(child))


async def end_and_measure(client: LspClient, how: str, label: str) -> tuple[float, float]:
    """End the server ``how``; seconds until the process ended, and until every descendant had."""
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


@pytest.fixture
def big_workspace(tmp_path: Path) -> Path:
    """Enough files that crawling them takes a few seconds."""
    for package in range(25):
        folder = tmp_path / f"pkg{package}"
        folder.mkdir()
        for module in range(200):
            defs = "".join(f"def f{module}_{n}(x):\n    return x + {n}\n\n\n" for n in range(20))
            (folder / f"mod{module}.py").write_text(defs)
    (tmp_path / ".git").mkdir()
    return tmp_path


async def test_exit_without_shutdown_while_the_index_crawls(big_workspace):
    client = await raw_session(serve_command(worker_process=True), big_workspace)
    try:

        async def crawling() -> bool:
            folders = (await client.request("aicockpit/index", None))["folders"]
            return bool(folders) and not folders[0]["ready"]

        await wait_until(crawling, 30, "the index is crawling")
        process_s, children_s = await end_and_measure(client, "exit", "index crawling, engine importing")
    finally:
        client._transport.close()
    assert client._transport.get_returncode() == 1  # exit without shutdown: the spec's error code
    assert process_s < EXIT_ALLOWED_S and children_s < EXIT_ALLOWED_S


@pytest.mark.parametrize("how", ["end of input", "SIGTERM"])
async def test_ending_while_the_engine_loads_its_model(how):
    """SIGTERM is how editors stop a server that lingers: it used to orphan the engine processes."""
    client = await raw_session(serve_command(worker_process=True))
    try:
        await wait_until(lambda: engine_process_runs(client), ENGINE_PROCESS_TIMEOUT_S, "an engine process")
        state = (await client.request("aicockpit/stats", None))["engine"]["state"]
        process_s, children_s = await end_and_measure(client, how, f"engine {state}")
    finally:
        client._transport.close()
    assert client._transport.get_returncode() == 1  # no shutdown came first
    assert process_s < EXIT_ALLOWED_S and children_s < EXIT_ALLOWED_S


async def test_shutdown_and_exit_while_generating_answer_the_request_in_flight():
    client = await raw_session(serve_command(worker_process=True), options={"chat": {"max_tokens": 4000}})
    try:
        await wait_engine_ready(client)
        chat_id, chat = client.send("aicockpit/chat", {"message": "Tell me a very long story."})

        async def generating() -> bool:
            return (await client.request("aicockpit/stats", None))["engine"]["unfinished_requests"] > 0

        await wait_until(generating, 60, "a generation in flight")
        process_s, children_s = await end_and_measure(client, "shutdown+exit", "generating")
    finally:
        client._transport.close()
    assert chat.done() and client.answers[chat_id] == 1  # cancelled by shutdown, and said so
    assert client._transport.get_returncode() == 0
    assert process_s < EXIT_ALLOWED_S and children_s < EXIT_ALLOWED_S
