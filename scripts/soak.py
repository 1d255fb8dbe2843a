"""Soak: type through the traces for a long time against a real engine, with chat and edits mixed in.

    PYTHONPATH=server .venv/bin/python scripts/soak.py --minutes 30 --out soak.json

One ``aicockpit serve`` (the real small model by default) on a copy of the fixture
workspace, with its own cache folder. The typing traces are replayed one after
another (each opens, types into and closes a document: the index re-reads it), a
chat message goes out every ``--chat-every`` seconds and an instruction edit
(``aicockpit.previewEdit``) every ``--edit-every`` seconds. Every ``--sample-every``
seconds: the server's RSS, open file descriptors, threads, its engine process's
RSS and the SQLite files' sizes. At the end: requests sent, answered, unanswered
(must be 0), RSS growth after the warm-up (must stay under 5%), event-loop stalls,
as JSON. A benchmark, not a test: it prints figures and says which targets it met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from aicockpit.bench.chat_load import ChatLoad, every  # noqa: E402
from aicockpit.bench.client import LspClient, LspError  # noqa: E402
from aicockpit.bench.replay import TraceReplay, load_traces  # noqa: E402
from aicockpit.bench.run import WORKSPACE, wait_indexed, wait_ready  # noqa: E402
from aicockpit.loop_lag import loop_summary, snapshot_since  # noqa: E402

DEFAULT_MODEL = ROOT / ".cache" / "models" / "SmolLM2-135M-Instruct"
RSS_GROWTH_LIMIT = 0.05
EDIT_INSTRUCTIONS = ("Add a docstring.", "Rename the variable total to amount.", "Add type hints.")


class EditLoad:
    """An instruction edit every ``every_s`` seconds on an open document (previewed: nothing applied)."""

    def __init__(self, client: LspClient, uri: str, every_s: float) -> None:
        self.client, self.uri, self.every_s = client, uri, every_s
        self.sent = self.answered = self.failed = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        async for _ in every(self.every_s, self._stop):
            self.sent += 1
            arguments = {
                "uri": self.uri,
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 6, "character": 0}},
                "instruction": EDIT_INSTRUCTIONS[self.sent % len(EDIT_INSTRUCTIONS)],
            }
            params = {"command": "aicockpit.previewEdit", "arguments": [arguments]}
            try:
                await self.client.request("workspace/executeCommand", params, timeout=300)
                self.answered += 1
            except LspError:  # answered, with an error (the model proposed nothing usable)
                self.answered += 1
                self.failed += 1
            except TimeoutError:
                self.failed += 1

    def stop(self) -> None:
        self._stop.set()

    def report(self) -> dict[str, Any]:
        return {"every_s": self.every_s, "sent": self.sent, "answered": self.answered, "errors": self.failed}


def sample(server: psutil.Process, cache: Path, started: float) -> dict[str, Any]:
    engine_rss = 0
    for child in server.children(recursive=True):
        try:
            engine_rss += child.memory_info().rss
        except psutil.Error:
            pass
    return {
        "t_s": round(time.perf_counter() - started, 1),
        "rss_mb": round(server.memory_info().rss / 2**20, 1),
        "engine_rss_mb": round(engine_rss / 2**20, 1),
        "fds": server.num_fds(),
        "threads": server.num_threads(),
        "sqlite_kb": {
            str(path.relative_to(cache)): round(path.stat().st_size / 1024, 1)
            for path in sorted(cache.rglob("*.sqlite*"))
        },
    }


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aicockpit-soak-") as scratch:
        workspace = Path(scratch) / "shop-project"
        shutil.copytree(WORKSPACE, workspace)
        (workspace / ".git").mkdir()
        cache = Path(scratch) / "cache"
        env = {**os.environ, "AICOCKPIT_CACHE_DIR": str(cache)}
        env.setdefault("VLLM_CACHE_ROOT", str(ROOT / ".cache" / "vllm"))
        env.setdefault("HF_HOME", str(ROOT / ".cache" / "huggingface"))
        command = [
            sys.executable,
            "-m",
            "aicockpit",
            "serve",
            "--log-level",
            "warning",
            "--model",
            args.model,
        ]
        command += ["--enforce-eager", "--max-model-len", str(args.max_model_len)]
        client = await LspClient.spawn_logging(command, env, args.server_log)
        try:
            return await _soak(args, client, workspace, cache, command)
        finally:
            await client.close()


async def _soak(args, client: LspClient, workspace: Path, cache: Path, command: list[str]) -> dict[str, Any]:
    options = {
        "completion": {"timeout_ms": args.timeout_ms, "max_tokens": 32},
        "chat": {"max_tokens": 32},
        "edit": {"max_tokens": 64},
        "logging": {"loop_monitor": True},
    }
    init = {"processId": os.getpid(), "rootUri": workspace.as_uri(), "capabilities": {}}
    await client.request("initialize", {**init, "initializationOptions": options}, timeout=120)
    client.notify("initialized", {})
    await wait_ready(client)
    await wait_indexed(client)
    server = psutil.Process(client.pid)
    traces = load_traces([Path(p) for p in args.traces])
    edit_doc = workspace / "shop" / "pricing.py"
    edit_uri = edit_doc.as_uri()
    document = {"uri": edit_uri, "languageId": "python", "version": 1, "text": edit_doc.read_text()}
    client.notify("textDocument/didOpen", {"textDocument": document})
    chat, edits = ChatLoad(client, args.chat_every), EditLoad(client, edit_uri, args.edit_every)
    side = [asyncio.ensure_future(chat.run()), asyncio.ensure_future(edits.run())]
    started = time.perf_counter()
    end = started + args.minutes * 60
    warm_up_end = started + min(args.warm_up_minutes * 60, args.minutes * 60 / 2)
    samples = [sample(server, cache, started)]
    warm: dict[str, Any] | None = None
    loop_before = None
    passes = keystrokes = 0
    next_sample = started + args.sample_every
    while time.perf_counter() < end:
        for number, trace in enumerate(traces):
            if time.perf_counter() >= end:
                break
            uri = (workspace / "shop" / f"soak_{passes}_{number}_{trace['name']}.py").as_uri()
            replay = TraceReplay(client, trace, uri)
            await replay.run()
            keystrokes += len(replay.sent)
            now = time.perf_counter()
            if warm is None and now >= warm_up_end:
                warm = sample(server, cache, started)
                loop_before = await client.request("aicockpit/stats", {"event_loop_histogram": True})
                loop_before = loop_before["event_loop"]["histogram"]
            if now >= next_sample:
                samples.append(sample(server, cache, started))
                next_sample = now + args.sample_every
                print(f"soak: {samples[-1]}", file=sys.stderr)
        passes += 1
    chat.stop()
    edits.stop()
    await asyncio.gather(*side)
    settle = time.perf_counter() + 60
    while client._pending and time.perf_counter() < settle:  # answers still on their way
        await asyncio.sleep(0.1)
    final = sample(server, cache, started)
    stats = await client.request("aicockpit/stats", {"event_loop_histogram": True})
    issued = next(client._ids) - 1  # every request id this client sent, 1..issued
    unanswered = [i for i in range(1, issued + 1) if client.answers[i] == 0]
    duplicated = [i for i in range(1, issued + 1) if client.answers[i] > 1]
    warm = warm or samples[0]
    growth = (final["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"]
    loop = stats["event_loop"]["histogram"]
    report = {
        "server_command": " ".join(command),
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "trace_passes": passes,
        "keystroke_requests": keystrokes,
        "requests": {"sent": issued, "answered": issued - len(unanswered), "unanswered": len(unanswered)},
        "unanswered_ids": unanswered[:20],
        "answered_twice": len(duplicated),
        "completion_outcomes": stats["outcomes"],
        "chat": chat.report(),
        "edits": edits.report(),
        "engine": {k: stats["engine"][k] for k in ("state", "restarts", "healthy", "unresponsive")},
        "rss_mb": {"start": samples[0]["rss_mb"], "after_warm_up": warm["rss_mb"], "end": final["rss_mb"]},
        "rss_growth_after_warm_up": round(growth, 4),
        "engine_rss_mb": {"start": samples[0]["engine_rss_mb"], "end": final["engine_rss_mb"]},
        "fds": {"start": samples[0]["fds"], "after_warm_up": warm["fds"], "end": final["fds"]},
        "threads": {
            "start": samples[0]["threads"],
            "after_warm_up": warm["threads"],
            "end": final["threads"],
        },
        "sqlite_kb": {"start": samples[0]["sqlite_kb"], "end": final["sqlite_kb"]},
        "event_loop_after_warm_up": loop_summary(snapshot_since(loop_before, loop)) if loop_before else None,
        "event_loop_whole_run": stats["event_loop"] | {"histogram": None},
        "samples": samples + [final],
    }
    report["targets"] = {
        "no request unanswered": not unanswered and not duplicated,
        "RSS growth after warm-up < 5%": growth < RSS_GROWTH_LIMIT,
        "file descriptors flat after warm-up": final["fds"] <= warm["fds"] + 5,
        "threads flat after warm-up": final["threads"] <= warm["threads"] + 2,
    }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to type (default: 30)")
    parser.add_argument("--warm-up-minutes", type=float, default=5.0, help="RSS growth counts after this")
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--timeout-ms", type=int, default=10000, help="completion.timeout_ms")
    parser.add_argument("--traces", nargs="+", default=[str(ROOT / "fixtures" / "traces")])
    parser.add_argument("--chat-every", type=float, default=20.0, metavar="S")
    parser.add_argument("--edit-every", type=float, default=45.0, metavar="S")
    parser.add_argument("--sample-every", type=float, default=60.0, metavar="S")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    parser.add_argument("--server-log", type=Path, help="append the server's log (stderr) here")
    args = parser.parse_args()
    report = asyncio.run(soak(args))
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if all(report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
