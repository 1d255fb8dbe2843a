"""Runs the benchmark: one ``aicockpit serve`` subprocess, every trace in turn, one JSON report.

The traces are typed into files of a workspace (a copy of the fixture shop), so
every prompt carries repository context, as in an editor with a project open.
With ``--remote-mock MS`` every role goes to a remote profile, served by a mock
OpenAI-compatible server (bench/mock_openai.py, its own process) that answers
after MS ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aicockpit.bench.chat_load import ChatLoad
from aicockpit.bench.client import LspClient
from aicockpit.bench.next_edit import NextEditReplay, measure_next_edit, measure_walks
from aicockpit.bench.real_edits import real_edit_traces
from aicockpit.bench.replay import (
    SPLIT_QS,
    Sent,
    TraceReplay,
    load_traces,
    measure,
    outside_view,
    overall,
    quantiles,
)
from aicockpit.config import ROLES
from aicockpit.loop_lag import loop_summary, snapshot_since

READY_TIMEOUT_S = 900
REMOTE_PROFILE = "remote"
CHAT_MAX_TOKENS = 32
WORKSPACE = Path(__file__).resolve().parents[3] / "fixtures" / "workspaces" / "python"


def server_command(args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "aicockpit", "serve", "--log-level", "warning"]
    if args.engine_stub is not None:
        command += ["--dev-engine-stub", str(args.engine_stub)]
    if args.model:
        command += ["--model", args.model]
    if args.enforce_eager:
        command.append("--enforce-eager")
    if args.max_model_len:
        command += ["--max-model-len", str(args.max_model_len)]
    return command


async def wait_ready(client: LspClient, remote: bool = False) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        stats: dict[str, Any] = await client.request("aicockpit/stats", None)
        engine = stats["engine"]
        if remote:  # nothing embedded is loaded (nor warmed up): the remote profile is what serves
            engine = stats["backends"].get(REMOTE_PROFILE, {"state": "loading", "error": ""})
        if engine["state"] == "failed":
            raise RuntimeError(f"the engine failed to start: {engine['error']}")
        if engine["state"] == "ready" and (remote or engine.get("warmup") not in ("pending", "running")):
            return stats
        await asyncio.sleep(0.25)
    raise TimeoutError("the engine did not get ready")


class RemoteMock:
    """bench/mock_openai.py in its own process, on a free loopback port."""

    def __init__(self, delay_ms: float, token_ms: float) -> None:
        self.delay_ms, self.token_ms = delay_ms, token_ms
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self.answers: list[tuple[float, float]] = []  # from the last ``stats``: see outside_view

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aicockpit.bench.mock_openai",
            "--delay-ms", str(self.delay_ms), "--token-ms", str(self.token_ms),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stdout is not None  # started with stdout=PIPE
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        if not line.startswith(b"port "):
            raise RuntimeError("the remote mock did not start")
        self.port = int(line.split()[1])

    async def stats(self) -> dict[str, Any]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(b"GET /stats HTTP/1.1\r\nhost: mock\r\nconnection: close\r\n\r\n")
        raw = await reader.read()
        writer.close()
        stats: dict[str, Any] = json.loads(raw.split(b"\r\n\r\n", 1)[1])
        service = stats.pop("service_ms")
        stats["service_ms"] = quantiles(service, SPLIT_QS)
        self.answers = [tuple(pair) for pair in stats.pop("answers")]
        return stats

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def profile_options(self) -> dict[str, Any]:
        """Every role on one remote profile: nothing embedded is loaded."""
        profile = {"backend": "openai", "url": self.url, "model": "mock"}
        roles = {role: {"profile": REMOTE_PROFILE} for role in ROLES}
        return {"profiles": {REMOTE_PROFILE: profile}, "roles": roles}


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aicockpit-bench-") as scratch:
        root = Path(scratch) / "shop-project"
        shutil.copytree(WORKSPACE, root)
        (root / ".git").mkdir()
        return await _run(args, root, Path(scratch) / "cache")


async def wait_indexed(client: LspClient) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        index: dict[str, Any] = await client.request("aicockpit/index", None)
        if index["folders"] and index["ready"]:
            return index
        await asyncio.sleep(0.1)
    raise TimeoutError("the workspace was not indexed")


async def _run(args: argparse.Namespace, workspace: Path, cache: Path) -> dict[str, Any]:
    traces = load_traces([Path(p) for p in args.traces])
    env = dict(os.environ)
    env["AICOCKPIT_CACHE_DIR"] = str(cache)  # the run's own index, usage and sessions
    root = Path.cwd()
    env.setdefault("VLLM_CACHE_ROOT", str(root / ".cache" / "vllm"))
    env.setdefault("HF_HOME", str(root / ".cache" / "huggingface"))
    command = server_command(args)
    mock = None
    if args.remote_mock is not None:
        mock = RemoteMock(args.remote_mock, args.remote_mock_token_ms)
        await mock.start()
    client = await LspClient.spawn_logging(command, env, args.server_log)
    try:
        options: dict[str, Any] = {
            "completion": {"max_tokens": args.max_tokens, "timeout_ms": args.timeout_ms}
        }
        if args.debounce_ms is not None:
            options["completion"].update(debounce_min_ms=args.debounce_ms, debounce_max_ms=args.debounce_ms)
        if mock is not None:
            options.update(mock.profile_options())
        if args.engine_in_process:
            options.setdefault("engine", {})["multiprocessing"] = False
        if args.no_prefix_caching:
            options.setdefault("engine", {})["prefix_caching"] = False
        if args.chat_every:
            options["chat"] = {"max_tokens": CHAT_MAX_TOKENS}
        # The loop's stalls are part of the report (--no-loop-monitor: as a user's server runs).
        options["logging"] = {"loop_monitor": not args.no_loop_monitor}
        await client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": workspace.as_uri(),
                "capabilities": {"textDocument": {"inlineCompletion": {}}},
                "initializationOptions": options,
            },
            timeout=120,
        )
        client.notify("initialized", {})
        started = time.perf_counter()
        ready = await wait_ready(client, remote=mock is not None)
        engine_start_s = time.perf_counter() - started
        await wait_indexed(client)
        loop_before = await _loop_histogram(client)
        chat = ChatLoad(client, args.chat_every) if args.chat_every else None
        chatting = asyncio.ensure_future(chat.run()) if chat else None
        results: dict[str, dict[str, Any]] = {}
        last_id = max((t["id"] for t in (await _stats(client, 0))["traces"]), default=0)
        totals = {"prompt": 0, "cached": 0, "generated": 0, "wasted": 0}
        sent: list[Sent] = []
        for number, trace in enumerate(traces):
            before = await client.request("aicockpit/stats", None)
            cpu_before = client.cpu_seconds()
            document = workspace / "shop" / f"bench_{number}_{trace['name']}.py"
            replay = TraceReplay(client, trace, document.as_uri())
            await replay.run()
            sent += replay.sent
            await asyncio.sleep(0.3)  # let aborted engine requests report their tokens
            after = await _stats(client, last_id)
            last_id = max((t["id"] for t in after["traces"]), default=last_id)
            by_tag = {t["tag"]: t for t in after["traces"] if t["tag"]}
            cpu_after = client.cpu_seconds()
            results[trace["name"]] = measure(replay, by_tag, before, after)
            if cpu_before is not None and cpu_after is not None:
                # The server's own CPU time per keystroke request (a steadier figure than wall
                # time on a shared machine); the remote mock's is not in it.
                results[trace["name"]]["server_cpu_ms_per_request"] = round(
                    (cpu_after - cpu_before) * 1000 / max(1, len(replay.sent)), 2
                )
            for key, field in (
                ("prompt", "prompt_tokens"),
                ("cached", "cached_tokens"),
                ("generated", "generated_tokens"),
                ("wasted", "wasted_tokens"),
            ):
                totals[key] += after[field] - before[field]
            print(f"bench: {trace['name']} done", file=sys.stderr)
        next_edit = None
        if args.next_edit_traces:
            before = await client.request("aicockpit/stats", None)
            replays = []
            for number, trace in enumerate(load_traces([Path(p) for p in args.next_edit_traces])):
                document = workspace / "shop" / f"edit_{number}_{trace['name']}.py"
                replays.append(NextEditReplay(client, trace, document.as_uri()))
                await replays[-1].run()
            next_edit = measure_next_edit(replays, before, await client.request("aicockpit/stats", None))
            print("bench: next-edit traces done", file=sys.stderr)
        real_edits = None
        if args.next_edit_real:
            real_edits = await _real_edits(client, workspace, args.next_edit_real)
            print("bench: next edits in real code done", file=sys.stderr)
        if chat is not None and chatting is not None:
            chat.stop()
            await chatting
        # The loop's stalls during the run (not the engine's start): two snapshots subtracted.
        event_loop = loop_summary(snapshot_since(loop_before, await _loop_histogram(client)))
        final = await client.request("aicockpit/stats", None)
        if mock is not None:
            mode, engine = "remote-mock", f"remote mock {args.remote_mock:g} ms"
        elif args.engine_stub is not None:
            mode, engine = "engine-stub", f"stub {args.engine_stub} ms"
        else:
            mode, engine = "engine", ready["engine"]["model"]
        report = {
            "mode": mode,
            "engine": engine,
            "server_command": " ".join(command),
            "options": options,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "engine_start_s": round(engine_start_s, 1),
            "overall": overall(results, totals),
            "next_edit": next_edit,
            "next_edit_real_code": real_edits,
            "event_loop": event_loop,
            "chat": chat.report() if chat else None,
            # The server's own view over the whole run: stage times since each request was received.
            "server_stages_ms": final["stages_ms"],
            "server_waits_ms": final["waits_ms"],
            "early_stops": final["early_stops"],
            "early_stop_saved_tokens": final.get("early_stop_saved_tokens"),
            # With --remote-mock nothing embedded may load ("stopped"): it would share the CPU.
            "embedded_engine": final["engine"]["state"],
            # The mock's own view: connections opened, streams the server closed early.
            "remote_mock": await mock.stats() if mock is not None else None,
            "outside_view": None,
            "traces": {
                name: {k: v for k, v in r.items() if not k.startswith("_")} for name, r in results.items()
            },
        }
        if mock is not None and not args.remote_mock_token_ms:
            # With tokens spaced out, the backend's last token may come after the one that
            # completed the suggestion: its time would not be the server's wait.
            report["outside_view"] = outside_view(sent, mock.answers)
        return report
    finally:
        await client.close()
        if mock is not None:
            await mock.stop()


async def _real_edits(client: LspClient, workspace: Path, count: int) -> dict[str, Any]:
    """Renames and repeated edits cut from installed packages (bench/real_edits.py), walked."""
    traces, versions = real_edit_traces(count)
    replays = []
    for number, trace in enumerate(traces):
        document = workspace / "shop" / f"real_{number}.py"
        replays.append(NextEditReplay(client, trace, document.as_uri()))
        await replays[-1].run()
    stats = (await client.request("aicockpit/stats", None))["next_edit"]
    return {
        "packages": versions,
        **measure_walks(replays),
        # The server's own time for the structural finders, request by request (the whole run).
        "server_structural_ms": stats.get("structural_latency_ms"),
        "decisions": stats.get("decisions"),
    }


async def _loop_histogram(client: LspClient) -> dict[str, dict[str, int]]:
    stats = await client.request("aicockpit/stats", {"event_loop_histogram": True})
    histogram: dict[str, dict[str, int]] = stats["event_loop"]["histogram"]
    return histogram


async def _stats(client: LspClient, since: int) -> dict[str, Any]:
    stats: dict[str, Any] = await client.request("aicockpit/stats", {"traces_since": since})
    return stats
