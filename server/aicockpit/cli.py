"""The aicockpit command: serve (LSP, stdio), complete, edit, chat, context, index, bench, usage, schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aicockpit import __version__
from aicockpit.cli_log import CommandLog, say
from aicockpit.log_setup import setup_logging

if TYPE_CHECKING:  # the commands import what they use when they run: `--help` stays quick
    from aicockpit.completion.service import Suggestion
    from aicockpit.metrics import MetricsExporter
    from aicockpit.server import App

# A one-shot command's work once its role's engine is ready, given the backend's status.
Work = Callable[[dict[str, Any]], Awaitable[int]]

DEFAULT_TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "traces"


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """CLI flags as a config fragment; they win over the editor's options."""
    engine: dict[str, Any] = {}
    if args.model:
        engine["model"] = args.model
    if args.enforce_eager:
        engine["enforce_eager"] = True
    if args.max_model_len:
        engine["max_model_len"] = args.max_model_len
    if args.engine_in_process:
        engine["multiprocessing"] = False
    out: dict[str, Any] = {"engine": engine} if engine else {}
    if args.log_level:
        out["logging"] = {"level": args.log_level}
    return out


def one_shot_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """A one-shot command runs the model in vLLM's engine core process (no worker process
    under it): it starts ~6 s sooner on CPU, and it serves one request."""
    overrides = overrides_from(args)
    overrides.setdefault("engine", {})["multiprocessing"] = False
    return overrides


def serve(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "info")
    # stdout carries the protocol. Keep a private handle on it and point fd 1 at
    # stderr, so a stray print from any library can never corrupt the stream.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from aicockpit.ending import end_process
    from aicockpit.server import build_server
    from aicockpit.stdio import serve_stdio

    host = None
    if args.dev_engine_stub is not None:  # benchmarks only: the server's overhead without a model
        from aicockpit.bench.stub_engine import stub_factory
        from aicockpit.engine.host import EngineHost

        host = EngineHost(stub_factory(args.dev_engine_stub))
    server = build_server(overrides_from(args), host)
    if args.metrics_port is not None:
        start_metrics(args.metrics_port, server.app)  # in a daemon thread: it ends with the process
    code = 1
    try:
        code = serve_stdio(server.protocol, sys.stdin.buffer, protocol_out)
    except Exception:
        logging.getLogger("aicockpit").exception("the server stopped on an error")
    finally:
        end_process(code)  # engines, index crawl, exporter: all end with the process, at once


def start_metrics(port: int, app: App) -> MetricsExporter | None:
    """The Prometheus exporter on 127.0.0.1; a busy port is reported and the server goes on without it."""
    from aicockpit.features.stats import stats_payload
    from aicockpit.metrics import MetricsExporter

    try:
        return MetricsExporter(port, lambda: stats_payload(app)).start()
    except (OSError, OverflowError) as err:
        logging.getLogger("aicockpit").error("metrics exporter not started on 127.0.0.1:%d: %s", port, err)
        return None


def bench(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "warning")
    from aicockpit.bench.run import run_bench

    if args.real_project:
        from aicockpit.bench.real_project import default_model, run_real_project

        args.model = args.model or default_model()
        run = run_real_project
    else:
        run = run_bench
    if not args.real_project and args.engine_stub is None and args.remote_mock is None and not args.model:
        print(
            "aicockpit bench: give --model (e.g. fixtures/tiny_model/out), --engine-stub MS"
            " or --remote-mock MS",
            file=sys.stderr,
        )
        return 2
    try:
        report = asyncio.run(run(args))
    except (ValueError, RuntimeError, TimeoutError, ConnectionError) as err:
        print(f"aicockpit bench: {err}", file=sys.stderr)
        return 1
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def one_shot(args: argparse.Namespace, run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]]) -> int:
    """complete, edit, chat: the engine's log in a file unless --verbose (cli_log.py)."""
    with CommandLog(args.verbose, args.command) as log:
        setup_logging(args.log_level or "warning")
        code = asyncio.run(run(args))
        log.failed = code != 0
    return code


def complete(args: argparse.Namespace) -> int:
    return one_shot(args, _complete)


async def _complete(args: argparse.Namespace) -> int:
    from aicockpit.context.positions import Position, utf16_len
    from aicockpit.engine.host import EngineHost
    from aicockpit.server import App

    path = Path(args.path)
    text = _read_text(path)
    if text is None:
        return 2
    overrides = one_shot_overrides(args)
    overrides.setdefault("completion", {})["timeout_ms"] = args.timeout_ms
    # One question, no typing to keep up with: the role waits as long as the command does.
    limits = {"first_token_timeout_ms": args.timeout_ms, "timeout_ms": args.timeout_ms}
    overrides["roles"] = {"completion": limits}
    if args.max_tokens:
        overrides["completion"]["max_tokens"] = args.max_tokens
    app = App(overrides, EngineHost())
    if args.workspace:  # repository context, as in the editor
        app.index.add_folder(args.workspace).build()
    uri = path.resolve().as_uri()
    app.documents.open(uri, _language(path), 0, text)
    # --col counts characters like an editor's status bar; LSP counts UTF-16 units.
    line = args.line - 1
    lines = app.documents.get(uri).lines
    column = args.col - 1
    if 0 <= line < lines.line_count:
        column = utf16_len(lines.line(line)[:column])

    started = time.perf_counter()

    async def work(backend: dict[str, Any]) -> int:
        engine_start_ms = (time.perf_counter() - started) * 1000
        # The editor's path: the scheduler (asked, not typed: no debounce).
        suggestion = await app.scheduler.complete(uri, Position(line, column), invoked=True)
        _print_completion(args, app, backend, suggestion, engine_start_ms)
        return 0

    return await _with_engine(app, "completion", work)


def _print_completion(
    args: argparse.Namespace,
    app: App,
    backend: dict[str, Any],
    suggestion: Suggestion | None,
    engine_start_ms: float,
) -> None:
    trace = app.telemetry.summary()["last_request"] or {}
    text_out = suggestion.text if suggestion else ""
    if args.json:
        report = {
            "text": text_out,
            "engine": "vllm" if backend["backend"] == "embedded" else "openai",
            "model": backend["model"],
            "outcome": trace.get("outcome"),
            "prompt_tokens": trace.get("prompt_tokens", 0),
            "cached_tokens": trace.get("cached_tokens", 0),
            "generated_tokens": trace.get("generated_tokens", 0),
            "context": trace.get("context", []),
            "timings_ms": {"engine_start": round(engine_start_ms, 1), **trace.get("timings_ms", {})},
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(text_out)
        timings = trace.get("timings_ms", {})
        say(
            f"-- {trace.get('outcome')}: engine start {engine_start_ms / 1000:.1f} s, "
            f"first token {timings.get('first_token', 0):.0f} ms, total {timings.get('answered', 0):.0f} ms, "
            f"prompt {trace.get('prompt_tokens', 0)} tokens"
        )


async def _with_engine(app: App, role: str, work: Work) -> int:
    """Load what ``role`` needs, run ``work()``, always stop the engines."""
    await app.router.apply(app.config)
    try:
        await app.router.wait_ready(role)
        backend = app.router.status()["backends"][app.router.profile_for(role)]
        if backend["state"] != "ready":
            say(f"aicockpit: the engine failed to start: {backend['error']}")
            return 1
        return await work(backend)
    finally:
        await app.router.stop()


def _parse_range(text: str) -> tuple[int, int | None, int, int | None]:
    """``L1:C1-L2:C2`` (1-based, columns in characters) or ``L1-L2`` (whole lines)."""
    try:
        start, end = text.split("-", 1)
        l1, _, c1 = start.partition(":")
        l2, _, c2 = end.partition(":")
        return int(l1), int(c1) if c1 else None, int(l2), int(c2) if c2 else None
    except ValueError:
        raise SystemExit(f"aicockpit: --range must look like 12:1-20:5 or 12-20, got {text!r}") from None


def edit(args: argparse.Namespace) -> int:
    return one_shot(args, _edit)


async def _edit(args: argparse.Namespace) -> int:
    from aicockpit.edit.diff import apply_line_edits, unified_diff
    from aicockpit.engine.host import EngineHost
    from aicockpit.server import App

    path = Path(args.path)
    text = _read_text(path)
    if text is None:
        return 2
    l1, _c1, l2, c2 = _parse_range(args.range)
    last = l2 - 1 if (c2 == 1 and l2 > l1) else l2  # ending at column 1 excludes that line
    app = App(one_shot_overrides(args), EngineHost())
    uri = path.resolve().as_uri()
    app.documents.open(uri, _language(path), 0, text)

    async def work(_backend: dict[str, Any]) -> int:
        proposal = await app.edits.rewrite(uri, l1 - 1, last - 1, args.instruction, 0)
        new_text = apply_line_edits(text, proposal.edits)
        print(unified_diff(text, new_text, path.name) if args.diff else new_text, end="")
        return 0

    return await _with_engine(app, "edit", work)


def chat(args: argparse.Namespace) -> int:
    return one_shot(args, _chat)


async def _chat(args: argparse.Namespace) -> int:
    from aicockpit.context.files import WorkspaceFiles
    from aicockpit.engine.host import EngineHost
    from aicockpit.server import App

    app = App(one_shot_overrides(args), EngineHost())
    app.workspace = WorkspaceFiles(Path(args.workspace), app.live("index"))

    async def work(_backend: dict[str, Any]) -> int:
        stream = lambda text: print(text, end="", flush=True)  # noqa: E731
        reply = await app.chat.send(args.message, args.session, on_delta=stream)
        print()
        for notice in reply.notices:
            say(f"aicockpit: {notice}")
        say(f"-- session {reply.session}")
        return 0

    return await _with_engine(app, "chat", work)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        say(f"aicockpit: cannot read {path}: {err}")
        return None


def _language(path: Path) -> str:
    return {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust"}.get(
        path.suffix, path.suffix.lstrip(".")
    )


def usage(args: argparse.Namespace) -> int:
    from aicockpit.usage import UsageStore, default_path, format_table

    store = UsageStore(args.db or default_path())
    report = asyncio.run(store.report(days=args.days, role=args.role))
    store.close()
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


def schema(args: argparse.Namespace) -> int:
    from aicockpit.config import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _engine_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model id or local folder (default: the config's)")
    parser.add_argument("--enforce-eager", action="store_true", help="skip CUDA graphs (faster start)")
    parser.add_argument("--max-model-len", type=int, help="context length in tokens")
    parser.add_argument(
        "--engine-in-process",
        action="store_true",
        help="run the model in vLLM's engine core process, with no worker process under it"
        " (engine.multiprocessing: false): ~6 s sooner ready on CPU",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def _one_shot_flags(parser: argparse.ArgumentParser) -> None:
    _engine_flags(parser)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the engine's log (vLLM, torch) as it runs"
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="aicockpit", description="AI pair-programming language server")
    root.add_argument("--version", action="version", version=__version__)
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the language server on stdio")
    _engine_flags(p)
    p.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics (off by default)",
    )
    # Development only: a fixed-latency engine stub instead of a model (used by `aicockpit bench`).
    p.add_argument("--dev-engine-stub", type=float, metavar="MS", help=argparse.SUPPRESS)
    p.set_defaults(run=serve)

    p = commands.add_parser("bench", help="replay typing traces against a real `aicockpit serve`")
    p.add_argument(
        "--traces",
        nargs="+",
        default=[str(DEFAULT_TRACES)],
        help="trace files or folders (default: %(default)s)",
    )
    p.add_argument(
        "--next-edit-traces",
        nargs="*",
        default=[str(DEFAULT_TRACES / "next_edit")],
        help="editing traces replayed against aicockpit/nextEdit (none: skip; default: %(default)s)",
    )
    p.add_argument(
        "--next-edit-real",
        type=int,
        default=0,
        metavar="N",
        help="also walk N renames and N repeated edits cut from installed packages' code through"
        " aicockpit/nextEdit, scoring each answer (default: none)",
    )
    p.add_argument(
        "--engine-stub", type=float, metavar="MS", help="use an engine stub with this fixed latency"
    )
    p.add_argument(
        "--remote-mock",
        type=float,
        metavar="MS",
        help="every role on a remote profile: a mock OpenAI-compatible server (started by the bench)"
        " whose first token comes MS ms after the request",
    )
    p.add_argument(
        "--remote-mock-token-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="the remote mock's time between tokens after the first (default 0)",
    )
    p.add_argument(
        "--debounce-ms", type=int, help="completion.debounce_min_ms and debounce_max_ms for the run"
    )
    p.add_argument("--max-tokens", type=int, default=32, help="completion.max_tokens for the run")
    p.add_argument("--timeout-ms", type=int, default=2000, help="completion.timeout_ms for the run")
    p.add_argument("--out", help="also write the JSON report to this file")
    p.add_argument(
        "--no-prefix-caching",
        action="store_true",
        help="turn vLLM's prefix caching off (engine.prefix_caching: false), to measure what it is worth",
    )
    p.add_argument(
        "--no-loop-monitor",
        action="store_true",
        help="leave the event-loop monitor off (logging.loop_monitor), as a user's server runs",
    )
    p.add_argument("--server-log", metavar="FILE", help="append the server's log (stderr) to FILE")
    p.add_argument(
        "--real-project",
        action="store_true",
        help="the real model (default: SmolLM2 in .cache/models) with default settings on real files"
        " of installed packages, over LSP, with an ablation of adaptive budgets and pre-warming",
    )
    p.add_argument(
        "--packages",
        default="httpx,click,jinja2,starlette,requests,urllib3,anyio,httpcore",
        help="--real-project: packages whose longest modules are used",
    )
    p.add_argument("--files", type=int, default=4, help="--real-project: how many files")
    p.add_argument("--pauses", type=int, default=3, help="--real-project: typing pauses per file")
    p.add_argument("--invoked", type=int, default=3, help="--real-project: invoked completions per file")
    p.add_argument("--configs", help="--real-project: configurations to run (default: all), comma-separated")
    p.add_argument(
        "--chat-every",
        type=float,
        default=0,
        metavar="S",
        help="also send a chat message every S seconds while typing (the chat store busy; default: none)",
    )
    _engine_flags(p)
    p.set_defaults(run=bench)

    p = commands.add_parser("complete", help="complete at a position in a file, without an editor")
    p.add_argument("path")
    p.add_argument("--line", type=int, required=True, help="1-based line")
    p.add_argument("--col", type=int, required=True, help="1-based column, in characters")
    p.add_argument("--json", action="store_true", help="print the completion with its figures as JSON")
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--timeout-ms", type=int, default=60000, help="time budget for the completion")
    p.add_argument("--workspace", help="index this folder for repository context")
    _one_shot_flags(p)
    p.set_defaults(run=complete)

    p = commands.add_parser("edit", help="rewrite lines of a file as instructed; prints the result")
    p.add_argument("path")
    p.add_argument("--range", required=True, help="L1:C1-L2:C2 (1-based) or L1-L2")
    p.add_argument("--instruction", required=True)
    p.add_argument("--diff", action="store_true", help="print a unified diff instead of the new file")
    _one_shot_flags(p)
    p.set_defaults(run=edit)

    p = commands.add_parser("chat", help="ask about the code; @path and @symbol add context")
    p.add_argument("message")
    p.add_argument("--session", help="continue this session")
    p.add_argument("--workspace", default=".", help="workspace folder (default: the current one)")
    _one_shot_flags(p)
    p.set_defaults(run=chat)

    p = commands.add_parser("usage", help="print token usage per day, role and model")
    p.add_argument("--days", type=int, help="only the last N days")
    p.add_argument("--role", choices=["completion", "edit", "chat", "next_edit"])
    p.add_argument("--db", help="usage database (default: usage.sqlite3 in the cache directory)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=usage)

    from aicockpit.cli_context import add_parsers

    add_parsers(commands)

    p = commands.add_parser("schema", help="print the JSON schema of the configuration")
    p.set_defaults(run=schema)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    sys.exit(args.run(args))
