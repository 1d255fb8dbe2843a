"""``aicockpit bench --real-project``: the real model, default settings, real files, as a user meets them.

For each configuration of an ablation, a fresh ``aicockpit serve`` (its own
prefix cache and speed measurement) runs the same script over files of at
least ``MIN_LINES`` lines from pure-Python packages installed beside aicockpit
(copied into a workspace and indexed as a project), the way an editor drives it:

- **open**: ``didOpen`` and ``aicockpit/didFocus`` at the cursor (what the
  editor integrations send), a second to read, then three keystrokes 150 ms
  apart, each with an automatic inline-completion request, then a pause: the
  time from ``didOpen`` to the answer shown at that pause;
- **pauses**: elsewhere in the file already open, focus, three keystrokes, a
  pause: the time from the last keystroke to the answer;
- **invoked**: a statement cut after ``return `` and an Invoked request (the
  user pressed the key): does it show text.

Configurations: the defaults (adaptive budgets and pre-warming), each turned off,
both off, the defaults before issue 21 (fixed budgets, no pre-warming, a 2,000 ms
deadline), and the defaults with no deadline at all: the share of text a user
would see if time did not matter. Breaker trips and the server's retry lines
are counted from its stats and log.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aicockpit.bench.client import LspClient
from aicockpit.bench.run import wait_indexed, wait_ready
from aicockpit.telemetry import percentile

MIN_LINES = 1000
PACKAGES = ("httpx", "click", "jinja2", "starlette", "requests", "urllib3", "anyio", "httpcore")
KEY_GAP_S = 0.15
READ_S = 1.0  # after opening, before the first keystroke
TYPED = 3  # characters typed before each pause
ANSWER_TIMEOUT_S = 600
CASE_SPACING = 80  # lines between the cases of one file
RETURN = re.compile(r"^(\s+)return (\S.{6,60})$")
CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "no_prewarm": {"completion": {"prewarm": False}},
    "fixed_budgets": {"completion": {"adaptive_budgets": False}},
    "fixed_budgets_no_prewarm": {"completion": {"adaptive_budgets": False, "prewarm": False}},
    "before_issue_21": {
        "completion": {"adaptive_budgets": False, "prewarm": False, "timeout_ms": 2000},
        "roles": {"completion": {"first_token_timeout_ms": 3000, "timeout_ms": 10000}},
    },
    "no_deadline": {"completion": {"timeout_ms": 600000}},
}


@dataclass(frozen=True)
class Case:
    line: int  # 0-based
    indent: int
    original: str  # the whole line
    cut: int  # characters of the line present when the user pauses (after "return ")


def default_model() -> str:
    return str(Path.cwd() / ".cache" / "models" / "SmolLM2-135M-Instruct")


def pick_files(packages: list[str], count: int, site: Path) -> list[tuple[str, Path]]:
    """The ``count`` longest modules of at least MIN_LINES lines, one per package first."""
    found: list[tuple[int, str, Path]] = []
    for package in packages:
        for path in sorted((site / package).rglob("*.py")):
            lines = path.read_text(errors="replace").count("\n")
            if lines >= MIN_LINES:
                found.append((lines, package, path))
    found.sort(key=lambda item: -item[0])
    chosen: list[tuple[str, Path]] = []
    for _, package, path in found:  # the longest of each package, then the others
        if package not in {p for p, _ in chosen}:
            chosen.append((package, path))
    for _, package, path in found:
        if (package, path) not in chosen:
            chosen.append((package, path))
    return chosen[:count]


def cases_in(text: str, count: int) -> list[Case]:
    """Statements ``return <expr>`` spread through the file (after its first 300 lines)."""
    out: list[Case] = []
    lines = text.split("\n")
    for number, line in enumerate(lines):
        match = RETURN.match(line)
        if number < 300 or match is None or (out and number - out[-1].line < CASE_SPACING):
            continue
        indent = len(match.group(1))
        out.append(Case(number, indent, line, indent + len("return ")))
        if len(out) == count:
            break
    return out


class Session:
    """One configuration's server, driven the way an editor drives it."""

    def __init__(self, client: LspClient) -> None:
        self.client = client
        self.versions: dict[str, int] = {}
        self.tags = 0

    def open(self, uri: str, text: str) -> None:
        self.versions[uri] = 1
        document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        self.client.notify("textDocument/didOpen", {"textDocument": document})

    def focus(self, uri: str, line: int, character: int) -> None:
        position = {"line": line, "character": character}
        self.client.notify("aicockpit/didFocus", {"textDocument": {"uri": uri}, "position": position})

    def replace_line(self, uri: str, line: int, old: str, new: str) -> None:
        self.versions[uri] += 1
        change = {
            "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": len(old)}},
            "text": new,
        }
        self.client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": self.versions[uri]}, "contentChanges": [change]},
        )

    def ask(
        self, uri: str, line: int, character: int, invoked: bool
    ) -> tuple[str, asyncio.Future[tuple[Any, float]]]:
        self.tags += 1
        tag = f"rp-{self.tags}"
        params = {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "context": {"triggerKind": 1 if invoked else 2},
            "workDoneToken": tag,
        }
        _, future = self.client.send("textDocument/inlineCompletion", params)
        return tag, future

    async def type_and_pause(self, uri: str, case: Case) -> tuple[float, bool, float, str]:
        """Type the last characters before the cut, a request per keystroke; then wait for the
        answer at the pause. Returns (pause start, shows text, answer time, tag)."""
        start = case.cut - TYPED
        current = case.original[:start]
        self.replace_line(uri, case.line, case.original, current)
        future = None
        tag = ""
        for ch in case.original[start : case.cut]:
            await asyncio.sleep(KEY_GAP_S)
            self.replace_line(uri, case.line, current, current + ch)
            current += ch
            tag, future = self.ask(uri, case.line, len(current), invoked=False)
        paused = time.perf_counter()
        assert future is not None
        result, received = await asyncio.wait_for(future, ANSWER_TIMEOUT_S)
        shows = (
            isinstance(result, dict)
            and bool(result.get("items"))
            and bool(result["items"][0]["insertText"].strip())
        )
        self.replace_line(uri, case.line, current, case.original)  # the user finishes the line
        return paused, shows, received, tag


async def run_config(
    name: str,
    overrides: dict[str, Any],
    files: list[tuple[str, Path]],
    args: argparse.Namespace,
    scratch: Path,
) -> dict[str, Any]:
    root = scratch / name / "project"
    for package, _ in files:
        if not (root / package).exists():
            site = Path(sysconfig.get_paths()["purelib"])
            shutil.copytree(site / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".git").mkdir(exist_ok=True)
    env = dict(os.environ, AICOCKPIT_CACHE_DIR=str(scratch / name / "cache"))
    env.setdefault("VLLM_CACHE_ROOT", str(Path.cwd() / ".cache" / "vllm"))
    log = scratch / name / "server.log"
    command = [sys.executable, "-m", "aicockpit", "serve", "--log-level", "info", "--model", args.model]
    client = await LspClient.spawn_logging(command, env, str(log))
    try:
        capabilities: dict[str, Any] = {"textDocument": {"inlineCompletion": {}}}
        await client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": capabilities,
                "initializationOptions": overrides,
            },  # fmt: skip
            timeout=120,
        )
        client.notify("initialized", {})
        started = time.perf_counter()
        await wait_ready(client)
        engine_start_s = time.perf_counter() - started
        await wait_indexed(client)
        before = await client.request("aicockpit/stats", None)
        session = Session(client)
        opened: list[dict[str, Any]] = []
        pauses: list[dict[str, Any]] = []
        invoked: list[dict[str, Any]] = []
        for package, source in files:
            relative = source.relative_to(Path(sysconfig.get_paths()["purelib"]) / package)
            path = root / package / relative
            text = path.read_text()
            cases = cases_in(text, 1 + args.pauses + args.invoked)
            if not cases:
                continue
            uri = path.as_uri()
            first, rest = cases[0], cases[1:]
            opened_at = time.perf_counter()
            session.open(uri, text)
            session.focus(uri, first.line, first.cut - TYPED)
            await asyncio.sleep(READ_S)
            _, shows, received, tag = await session.type_and_pause(uri, first)
            waited = round(received - opened_at, 2)
            opened.append({"file": f"{package}/{relative}", "s": waited, "shows": shows, "tag": tag})
            for case in rest[: args.pauses]:
                session.focus(uri, case.line, case.cut - TYPED)
                await asyncio.sleep(READ_S)
                paused, shows, received, tag = await session.type_and_pause(uri, case)
                pauses.append({"ms": round((received - paused) * 1000, 1), "shows": shows, "tag": tag})
            for case in rest[args.pauses : args.pauses + args.invoked]:
                cut_line = case.original[: case.cut]
                session.replace_line(uri, case.line, case.original, cut_line)
                asked = time.perf_counter()
                tag, future = session.ask(uri, case.line, len(cut_line), invoked=True)
                result, received = await asyncio.wait_for(future, ANSWER_TIMEOUT_S)
                items = result.get("items") if isinstance(result, dict) else None
                shows = bool(items and items[0]["insertText"].strip())
                invoked.append({"ms": round((received - asked) * 1000, 1), "shows": shows, "tag": tag})
                session.replace_line(uri, case.line, cut_line, case.original)
            print(f"bench --real-project: {name}: {package}/{relative} done", file=sys.stderr)
        after = await client.request("aicockpit/stats", {"traces_since": 0})
        traces = {t["tag"]: t for t in after["traces"] if t["tag"]}
        return summarize(name, overrides, engine_start_s, opened, pauses, invoked, traces, before, after, log)
    finally:
        try:
            await client.request("shutdown", None, timeout=30)
            client.notify("exit", None)
        except Exception:  # the report matters more than a clean goodbye
            pass
        await client.close()


def summarize(
    name: str,
    overrides: dict[str, Any],
    engine_start_s: float,
    opened: list[dict[str, Any]],
    pauses: list[dict[str, Any]],
    invoked: list[dict[str, Any]],
    traces: dict[str, dict[str, Any]],
    before: dict[str, Any],
    after: dict[str, Any],
    log: Path,
) -> dict[str, Any]:
    def share(rows: list[dict[str, Any]]) -> float | None:
        return round(statistics.fmean(r["shows"] for r in rows), 3) if rows else None

    def outcomes(rows: list[dict[str, Any]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in rows:
            outcome = traces.get(row["tag"], {}).get("outcome", "unknown")
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    backend = after["backends"].get("default", {})
    text = log.read_text(errors="replace")
    prompt = after["prompt_tokens"] - before["prompt_tokens"]
    cached = after["cached_tokens"] - before["cached_tokens"]
    pause_ms = [r["ms"] for r in pauses]
    completion = after["roles"]["completion"]
    return {
        "config": name,
        "options": overrides,
        "engine_start_s": round(engine_start_s, 1),
        "open_to_first_suggestion_s": {
            "p50": round(statistics.median(r["s"] for r in opened), 2) if opened else None,
            "max": max((r["s"] for r in opened), default=None),
            "shows_text": share(opened),
            "each": [{k: v for k, v in r.items() if k != "tag"} for r in opened],
            "outcomes": outcomes(opened),
        },
        "pause_to_suggestion_ms": {
            "p50": round(percentile(pause_ms, 50), 1) if pause_ms else None,
            "p90": round(percentile(pause_ms, 90), 1) if pause_ms else None,
            "shows_text": share(pauses),
            "outcomes": outcomes(pauses),
            "n": len(pauses),
        },
        "invoked": {
            "shows_text": share(invoked),
            "p50_ms": round(percentile([r["ms"] for r in invoked], 50), 1) if invoked else None,
            "outcomes": outcomes(invoked),
            "n": len(invoked),
        },
        "cached_token_share": round(cached / prompt, 3) if prompt else None,
        "prompt_tokens": prompt,
        "breaker_trips": backend.get("times_opened", 0),
        "retry_lines_in_log": text.count("retrying ("),
        "breaker_lines_in_log": text.count("breaker open"),
        "budget": completion.get("budget"),
        "speed": completion.get("speed"),
        "health": completion.get("health"),
        "prewarm": after.get("prewarm", {}).get("outcomes"),
    }


async def run_real_project(args: argparse.Namespace) -> dict[str, Any]:
    site = Path(sysconfig.get_paths()["purelib"])
    packages = [p for p in args.packages.split(",") if (site / p).is_dir()]
    files = pick_files(packages, args.files, site)
    if not files:
        raise ValueError(f"no module of {MIN_LINES}+ lines in {', '.join(packages)} (installed in {site})")
    if not Path(args.model).exists():
        raise ValueError(f"no model at {args.model}: run scripts/setup.sh, or give --model")
    names = args.configs.split(",") if args.configs else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise ValueError(f"unknown configuration {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="aicockpit-real-project-") as scratch:
        for name in names:
            results.append(await run_config(name, CONFIGS[name], files, args, Path(scratch)))
            print(f"bench --real-project: {name} done", file=sys.stderr)
    return {
        "mode": "real-project",
        "model": args.model,
        "files": [f"{package}/{path.relative_to(site / package)}" for package, path in files],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average": os.getloadavg(),
        "configs": results,
    }
