"""A real LiteLLM proxy on 127.0.0.1 in front of one OpenAI-compatible server (``vllm serve`` here).

LiteLLM lives in its own virtualenv, ``.cache/litellm-venv`` (made by
``scripts/setup.sh``): its pinned dependencies would break ``import vllm`` in
``.venv``. The proxy refuses to start without a master key, so every run makes a
random one; clients send it as their API key, which also exercises ``api_key_env``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import httpx

from tests.support import ROOT, wait_until
from tests.vllm_serve import free_port, serving, stop_group

LITELLM = ROOT / ".cache" / "litellm-venv" / "bin" / "litellm"
START_TIMEOUT_S = 180


class LiteLLMProxy:
    def __init__(self, upstream_url: str, upstream_model: str, name: str, workdir: Path) -> None:
        self.upstream_url = upstream_url
        self.upstream_model = upstream_model
        self.name = name  # the model name clients ask the proxy for
        self.workdir = workdir
        self.log_path = workdir / "litellm.log"
        self.port = free_port()
        self.master_key = "sk-" + secrets.token_hex(32)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def config(self) -> str:
        # hosted_vllm/: LiteLLM's provider for a vLLM server; it forwards /v1/completions
        # and /v1/chat/completions and their streams.
        return (
            "model_list:\n"
            f"  - model_name: {self.name}\n"
            "    litellm_params:\n"
            f"      model: hosted_vllm/{self.upstream_model}\n"
            f"      api_base: {self.upstream_url}\n"
            "      api_key: none\n"
            "litellm_settings:\n"
            "  telemetry: false\n"
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LITELLM_MASTER_KEY=self.master_key,
            LITELLM_LOCAL_MODEL_COST_MAP="True",  # offline: its bundled price list, no download
            LITELLM_TELEMETRY="False",
            NO_PROXY="127.0.0.1,localhost",
        )
        return env

    async def start(self) -> None:
        if not LITELLM.exists():
            raise RuntimeError(f"{LITELLM} is missing: run scripts/setup.sh (it installs LiteLLM)")
        config = self.workdir / "litellm.yaml"
        config.write_text(self.config())
        command = [
            str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port),
            "--telemetry", "False",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
            )
        url = f"http://127.0.0.1:{self.port}/health/liveliness"
        async with httpx.AsyncClient() as client:
            await wait_until(
                lambda: serving(client, url, self.process, self.log_path),
                START_TIMEOUT_S,
                "litellm to answer",
                0.5,
            )

    def stop(self) -> None:
        stop_group(self.process)
