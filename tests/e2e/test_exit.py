"""The server ends within a second in every state, and leaves no child process.

Each test runs its own ``aicockpit serve`` on the tiny model, brings it to a state
(index crawling, engine loading), ends it (``exit`` with or without
``shutdown``, the end of input, SIGTERM) and measures, with psutil, when the process
and all of its descendants are gone. The assertion allows 3 s for a loaded machine;
the figures printed are the real ones (run with ``-s``). The idle state is
test_lifecycle.py's; generating, test_engine_failures.py's (its shared server's last test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aicockpit.bench.client import LspClient
from tests.support import (
    EXIT_ALLOWED_S,
    descendants,
    end_and_measure,
    ended,
    raw_session,
    serve_command,
    wait_until,
)

ENGINE_PROCESS_TIMEOUT_S = 180


async def engine_process_runs(client: LspClient) -> bool:
    """vLLM's engine core has started: the model is loading in a child process."""
    return any("EngineCore" in child.name() for child in descendants(client.pid) if not ended(child))


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
