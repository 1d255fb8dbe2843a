"""`bash scripts/demo.sh`, the README's second command, as a user runs it: the completion and
its figures on stdout, and none of the engine's chatter (vLLM, torch) on the terminal."""

from __future__ import annotations

import json
import os
import subprocess

from tests.e2e.helpers import others
from tests.support import ROOT, server_env, small_model


def test_the_demo_prints_the_completion_and_its_figures_and_nothing_else():
    small_model()  # set up, or fail saying so
    env = {**server_env(), "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT / "server"))}
    run = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["outcome"] == "served" and report["text"].strip(), report
    assert report["engine"] == "vllm" and report["model"].endswith("SmolLM2-135M-Instruct")
    assert report["prompt_tokens"] > 0 and report["generated_tokens"] > 0
    assert any(snippet["path"].startswith("shop/") for snippet in report["context"]), report["context"]
    timings = report["timings_ms"]
    assert 0 < timings["first_token"] <= timings["answered"] and timings["engine_start"] > 0, timings
    # The engine's log went to a file: whatever reaches the terminal is aicockpit's own.
    assert others(run.stderr) == [], run.stderr
