"""``aicockpit context`` and ``aicockpit index``: the context engine without an editor.

``context`` shows what a completion at a position would send the completion
role's model, byte for byte: the snippets chosen (path, lines, reason, tokens),
the prompt, the suffix field and the stop strings, built by the same code as in
the editor. ``index`` crawls a folder and reports files, definitions, seconds
and peak memory. Both need no engine: token counts use the role's tokenizer,
loaded offline.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from aicockpit.config import AicockpitConfig, decode_config, merge
from aicockpit.context.positions import Position, utf16_len

if TYPE_CHECKING:
    from aicockpit.engine.offline import OfflineTarget
    from aicockpit.server import App


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """CPU time of this process: the cost of a crawl whatever else the machine runs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 3)


def workspace_for(path: Path) -> Path:
    """The nearest folder above ``path`` with a .git, else the file's folder."""
    start = path.resolve().parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def _config(args: argparse.Namespace) -> AicockpitConfig:
    options: dict[str, Any] = {"usage": {"enabled": False}}  # nothing is generated: no usage to keep
    if getattr(args, "model", None):
        options["engine"] = {"model": args.model}
    if getattr(args, "cache_dir", None):
        options["index"] = {"cache_dir": args.cache_dir}
    if getattr(args, "budget", None) is not None:
        options["context"] = {"budget_tokens": args.budget}
    if getattr(args, "options", None):
        try:
            extra = json.loads(args.options)
        except json.JSONDecodeError as err:
            raise SystemExit(f"aicockpit: --options is not JSON: {err}") from None
        options = merge(extra if isinstance(extra, dict) else {}, options)
    config, problems = decode_config(options)
    if problems:
        raise SystemExit("aicockpit: " + "; ".join(problems))
    return config


def index_command(args: argparse.Namespace) -> int:
    from aicockpit.context.workspace_index import WorkspaceIndex

    root = Path(args.dir)
    if not root.is_dir():
        print(f"aicockpit: not a folder: {root}", file=sys.stderr)
        return 2
    config = _config(args)
    index = WorkspaceIndex(config.index)
    folder = index.add_folder(root, persist=not args.no_cache)
    cpu_before = cpu_seconds()
    stats = folder.build()
    report = {
        "root": str(folder.root),
        "files": stats.files,
        "parsed": stats.parsed,
        "reused": stats.reused,
        "skipped": stats.skipped,
        "skipped_reasons": stats.skipped_reasons,
        "definitions": stats.definitions,
        "seconds": stats.seconds,
        "cpu_seconds": round(cpu_seconds() - cpu_before, 3),
        "peak_rss_mb": peak_rss_mb(),
        "cache": str(folder.store.path) if folder.store else None,
    }
    index.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{report['files']} files ({report['parsed']} parsed, {report['reused']} from the cache, "
            f"{report['skipped']} skipped), {report['definitions']} definitions in {report['seconds']} s, "
            f"peak RSS {report['peak_rss_mb']} MB"
        )
    return 0


def context_command(args: argparse.Namespace) -> int:
    from aicockpit.engine.host import EngineHost
    from aicockpit.engine.offline import offline_target
    from aicockpit.server import App

    config = _config(args)
    try:
        target = offline_target(config)
    except Exception as err:
        print(f"aicockpit: cannot load the completion model's tokenizer: {err}", file=sys.stderr)
        return 2
    if args.batch:
        try:
            handle = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
        except OSError as err:
            print(f"aicockpit: cannot read {args.batch}: {err}", file=sys.stderr)
            return 2
        requests = []
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    requests.append(json.loads(line))
                except json.JSONDecodeError as err:
                    requests.append({"error": f"line {number}: {err}"})
    elif args.path and args.line and args.col:
        requests = [{"path": args.path, "line": args.line, "col": args.col}]
    else:
        print("aicockpit: give PATH --line N --col N, or --batch FILE", file=sys.stderr)
        return 2
    first = next((r.get("path") for r in requests if isinstance(r.get("path"), str)), None)
    root = Path(args.workspace) if args.workspace else workspace_for(Path(first or "."))
    # The editor's own pipeline (documents, index, prompt builder), with no engine loaded.
    app = App(msgspec.to_builtins(config), EngineHost())
    started = time.perf_counter()
    app.index.add_folder(root, persist=not args.no_cache).build()
    index_seconds = time.perf_counter() - started
    status = 0
    for number, request in enumerate(requests):
        result = _one(request, number, app, target)
        if "error" in result:
            status = 1
        result["index_seconds"] = round(index_seconds, 3)
        if args.json or args.batch:
            print(json.dumps(result, ensure_ascii=False, indent=None if args.batch else 2), flush=True)
        elif "error" in result:
            print(f"aicockpit: {result['error']}", file=sys.stderr)
        else:
            for snippet in result["snippets"]:
                print(
                    f"{snippet['path']}:{snippet['start_line']}-{snippet['end_line']}  "
                    f"{snippet['reason']}  ({snippet['tokens']} tokens)"
                )
            print("-" * 60)
            print(result["prompt"])
            if result["suffix"] is not None:
                print("-" * 60 + " suffix field")
                print(result["suffix"])
    app.index.close()
    return status


def _one(request: dict[str, Any], number: int, app: App, target: OfflineTarget) -> dict[str, Any]:
    from aicockpit.prompt.assemble import describe_prompt

    if "error" in request:
        return {"error": request["error"]}
    path, line, col = request.get("path"), request.get("line"), request.get("col")
    if not isinstance(path, str) or not isinstance(line, int) or not isinstance(col, int):
        return {"error": f"request {number + 1}: needs path (string), line and col (1-based integers)"}
    text = request.get("text")
    if not isinstance(text, str):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            return {"path": path, "error": f"cannot read {path}: {err}"}
    uri = Path(path).resolve().as_uri()
    documents = app.documents
    if uri in documents:
        documents.close(uri)
    doc = documents.open(uri, "", number + 1, text)
    lines = doc.lines
    row = min(max(line - 1, 0), lines.line_count - 1)
    # --col counts characters like an editor's status bar; LSP counts UTF-16 units.
    column = utf16_len(lines.line(row)[: max(col - 1, 0)])
    started = time.perf_counter()
    cursor, outcome = app.completions.locate(uri, Position(row, column))
    prepared = app.completions.prepare(cursor, target) if cursor is not None else None
    ms = (time.perf_counter() - started) * 1000
    where = {"path": path, "line": line, "col": col}
    if cursor is None:
        return {**where, "error": f"no completion here: {outcome.replace('_', ' ')}"}
    if prepared is None:
        return {**where, "error": "a secrets file: never sent to a model"}
    prompt = prepared.prompt
    return {
        **where,
        **describe_prompt(prompt, target.backend),
        "context_tokens": sum(prompt.pieces.snippet_tokens),
        "prompt_tokens": target.tokenizer.count(prompt.text),
        "build_ms": round(ms, 3),
    }


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("context", help="show the context and prompt a completion at a position gets")
    p.add_argument("path", nargs="?")
    p.add_argument("--line", type=int, help="1-based line")
    p.add_argument("--col", type=int, help="1-based column, in characters")
    p.add_argument("--workspace", help="workspace folder (default: the git root above PATH)")
    p.add_argument("--batch", help='JSON lines {"path", "line", "col", "text"?}; "-" for stdin')
    p.add_argument("--model", help="model folder of the embedded engine (its tokenizer counts tokens)")
    p.add_argument("--options", help="config options as JSON, as the editor sends them (profiles, roles...)")
    p.add_argument("--budget", type=int, help="token budget for repository context")
    p.add_argument("--cache-dir", help="index cache folder")
    p.add_argument("--no-cache", action="store_true", help="index in memory only")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=context_command)

    p = commands.add_parser("index", help="index a folder and report files, definitions, time and memory")
    p.add_argument("dir")
    p.add_argument("--cache-dir", help="index cache folder")
    p.add_argument("--no-cache", action="store_true", help="index in memory only")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=index_command)
