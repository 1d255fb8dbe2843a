"""``aicockpit context`` and ``aicockpit index``: the context engine without an editor.

``context`` shows what a completion at a position would send the model: the
snippets chosen (path, lines, reason, tokens) and the final prompt. ``index``
crawls a folder and reports files, definitions, seconds and peak memory. Both
need no engine: token counts use the model folder's tokenizer, loaded offline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from aicockpit.config import AicockpitConfig, decode_config
from aicockpit.context.positions import Position, utf16_len


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """CPU time of this process: the cost of a crawl whatever else the machine runs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 3)


def load_tokenizer(model: str):
    """The model's tokenizer from its local folder (or the local HF cache), never downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    from aicockpit.engine.tokenizer import ModelTokenizer

    return ModelTokenizer(AutoTokenizer.from_pretrained(model, local_files_only=True))


def workspace_for(path: Path) -> Path:
    """The nearest folder above ``path`` with a .git, else the file's folder."""
    start = path.resolve().parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def _config(args: argparse.Namespace) -> AicockpitConfig:
    options: dict[str, Any] = {}
    if getattr(args, "model", None):
        options["engine"] = {"model": args.model}
    if getattr(args, "cache_dir", None):
        options["index"] = {"cache_dir": args.cache_dir}
    if getattr(args, "budget", None) is not None:
        options["context"] = {"budget_tokens": args.budget}
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
    from aicockpit.context.documents import DocumentStore
    from aicockpit.context.workspace_index import WorkspaceIndex
    from aicockpit.prompt.assemble import PromptAssembler
    from aicockpit.prompt.fim import detect_template

    config = _config(args)
    try:
        tokens = load_tokenizer(config.engine.model)
    except Exception as err:
        print(f"aicockpit: cannot load the tokenizer of {config.engine.model}: {err}", file=sys.stderr)
        return 2
    template = detect_template(tokens.special_tokens(), config.engine.fim_template)
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
    index = WorkspaceIndex(config.index)
    started = time.perf_counter()
    index.add_folder(root, persist=not args.no_cache).build()
    index_seconds = time.perf_counter() - started
    documents = DocumentStore()
    assembler = PromptAssembler(documents, index, lambda: config)
    status = 0
    for number, request in enumerate(requests):
        result = _one(request, number, documents, assembler, tokens, template)
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
    index.close()
    return status


def _one(request, number, documents, assembler, tokens, template) -> dict[str, Any]:
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
    documents.close(uri)
    doc = documents.open(uri, "", number + 1, text)
    lines = doc.lines
    row = min(max(line - 1, 0), lines.line_count - 1)
    # --col counts characters like an editor's status bar; LSP counts UTF-16 units.
    column = utf16_len(lines.line(row)[: max(col - 1, 0)])
    offset = lines.offset(lines.clamp(Position(row, column)))
    started = time.perf_counter()
    pieces = assembler.build(doc, offset, tokens, template)
    ms = (time.perf_counter() - started) * 1000
    if pieces is None:
        return {"path": path, "line": line, "col": col, "error": "a secrets file: never sent to a model"}
    prompt = pieces.render(template)
    return {
        "path": path,
        "line": line,
        "col": col,
        "snippets": pieces.describe(),
        "context_tokens": sum(pieces.snippet_tokens),
        "prompt_tokens": tokens.count(prompt),
        "build_ms": round(ms, 3),
        "prompt": prompt,
    }


def add_parsers(commands) -> None:
    p = commands.add_parser("context", help="show the context and prompt a completion at a position gets")
    p.add_argument("path", nargs="?")
    p.add_argument("--line", type=int, help="1-based line")
    p.add_argument("--col", type=int, help="1-based column, in characters")
    p.add_argument("--workspace", help="workspace folder (default: the git root above PATH)")
    p.add_argument("--batch", help='JSON lines {"path", "line", "col", "text"?}; "-" for stdin')
    p.add_argument("--model", help="model folder whose tokenizer counts tokens")
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
