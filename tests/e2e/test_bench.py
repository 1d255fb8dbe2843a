"""``aicockpit bench`` end to end (engine-stub mode: a real serve subprocess, no model) and --metrics-port."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from aicockpit.bench.client import LspClient
from tests.support import ROOT, server_env, wait_until

PASTE = str(ROOT / "fixtures" / "traces" / "paste.json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bench_replays_traces_over_stdio_and_prints_one_json_report(tmp_path):
    out = tmp_path / "report.json"
    traces = [PASTE, str(ROOT / "fixtures" / "traces" / "accept_suggestions.json")]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aicockpit",
            "bench",
            "--engine-stub",
            "5",
            "--traces",
            *traces,
            "--chat-every",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=server_env(),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report == json.loads(out.read_text())
    assert report["mode"] == "engine-stub" and set(report["traces"]) == {"paste", "accept_suggestions"}
    figures = report["overall"]
    for key in ("e2e_latency_ms", "server_overhead_ms", "prefix_cache_hit_ratio", "wasted_tokens_ratio"):
        assert key in figures
    assert figures["stale_responses"] == 0
    assert figures["outcomes"].get("served", 0) > 0
    accepting = report["traces"]["accept_suggestions"]
    assert accepting["accepted"] > 0 and accepting["engine_requests"].get("prefetch", 0) > 0
    assert sum(accepting["outcomes"].values()) == accepting["keystroke_requests"]
    assert accepting["mean_prompt_tokens"] > 0
    # The editing trace reached aicockpit/nextEdit, each request a generation with a prompt.
    next_edit = report["next_edit"]
    assert next_edit["requests"] == 3 and next_edit["mean_prompt_tokens"] > 100
    # The event loop's stalls during the run, and the part of them its own work made.
    loop = report["event_loop"]
    assert loop["ticks"] > 100 and loop["busy"]["max_ms"] <= loop["max_ms"]
    chat = report["chat"]  # chat messages went out while typing, each answered
    assert chat["sent"] > 0 and chat["answered"] == chat["sent"] and chat["sessions"] > 0
    assert sum(next_edit["outcomes"].values()) == 3


def test_bench_against_the_remote_mock_splits_the_overhead_and_keeps_connections(tmp_path):
    """--remote-mock: every role on the bench's own OpenAI-compatible mock, over kept-alive connections."""
    trace = str(ROOT / "fixtures" / "traces" / "accept_suggestions.json")
    command = [sys.executable, "-m", "aicockpit", "bench", "--remote-mock", "20", "--traces", trace]
    command.append("--next-edit-traces")  # none: the test above covers them (~5 s)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=server_env(), cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["mode"] == "remote-mock" and report["engine"] == "remote mock 20 ms"
    assert report["embedded_engine"] == "stopped"  # every role on the mock: no model loaded
    figures = report["overall"]
    for key in ("server_overhead_ms", "before_engine_call_ms", "after_engine_answer_ms"):
        assert set(figures[key]) == {"p50", "p90", "p99"}
    assert figures["outcomes"].get("served", 0) > 0 and figures["stale_responses"] == 0
    mock = report["remote_mock"]
    # Requests share connections: new ones only replace streams left while the mock still sent.
    assert mock["requests"] > 0 and mock["connections"] < mock["requests"] / 3
    # Seen from the client and the mock alone: requests pair with the mock's answers, and
    # take longer than the mock's own part of them.
    outside = report["outside_view"]
    assert 0 < outside["matched_requests"] <= mock["requests"]
    assert 0 < outside["server_overhead_ms"]["p50"] <= outside["server_overhead_ms"]["p99"]
    accepting = report["traces"]["accept_suggestions"]
    assert accepting["mean_context_snippets"] > 0  # repository context went along
    assert accepting["engine_requests"].get("prefetch", 0) > 0


def test_bench_reports_a_missing_trace_clearly():
    done = subprocess.run(
        [sys.executable, "-m", "aicockpit", "bench", "--engine-stub", "5", "--traces", "/nonexistent/t.json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env(),
    )
    assert done.returncode == 1
    assert "cannot read trace /nonexistent/t.json" in done.stderr


async def test_metrics_port_serves_the_stats_on_loopback():
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "aicockpit",
        "serve",
        "--dev-engine-stub",
        "5",
        "--metrics-port",
        str(port),
    ]
    client = await LspClient.spawn(command, server_env())
    try:
        await client.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {}})
        client.notify("initialized", {})

        def scrape_once_ready() -> str | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                body = response.read().decode()
            return body if 'aicockpit_engine_ready{state="ready"} 1' in body else None

        body = await wait_until(
            lambda: asyncio.to_thread(scrape_once_ready), 60, "the engine ready in /metrics"
        )
        assert "aicockpit_prefix_cache_hit_ratio" in body
        # Loopback only: the port is not open on the machine's other addresses.
        outside = socket.gethostbyname(socket.gethostname())
        if not outside.startswith("127."):
            with socket.socket() as sock:
                sock.settimeout(2)
                assert sock.connect_ex((outside, port)) != 0
    finally:
        assert await client.close() == 0


def test_the_side_by_side_script_times_aicockpit_from_outside_and_says_what_tabby_agent_needs():
    script = [sys.executable, str(ROOT / "scripts" / "bench_peer.py")]
    missing = subprocess.run(script, capture_output=True, text=True, timeout=60, env=server_env(), cwd=ROOT)
    assert missing.returncode == 2 and "npm pack tabby-agent@1.5.0" in missing.stderr
    done = subprocess.run(
        # The paste trace: 40 keystrokes in 5 s (the default one_char trace takes 20 s).
        [*script, "--servers", "aicockpit", "--rounds", "1", "--delay-ms", "20", "--traces", PASTE],
        capture_output=True,
        text=True,
        timeout=300,
        env=server_env(),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pooled = json.loads(done.stdout)["pooled"]["aicockpit"]
    # Every keystroke answered; those that reached the mock pair with its answers.
    assert pooled["answered"] == pooled["requests"] == len(json.loads(Path(PASTE).read_text())["events"])
    assert 0 < pooled["outside_view"]["matched_requests"] <= pooled["reached_backend"]
    assert pooled["suggestions_shown"] > 0 and pooled["stale"] == 0
