"""Benchmarks of the context engine; prints one JSON object of figures.

    python scripts/bench_context.py [--model DIR] [--only index,update,context,recall,cache]
    python scripts/bench_context.py --write-cases   # regenerate the recall case list

- index: the Python standard library's source tree (found with sysconfig), cold
  into an empty cache, then a warm restart from the SQLite cache; seconds and
  peak RSS of a fresh process each (``aicockpit index --json``).
- update: one file saved and re-indexed (``ProjectIndex.refresh``), milliseconds.
- context: ``PromptAssembler.build`` at 200 cursor positions of a 5,000-line file
  with the model's tokenizer, p50/p99 milliseconds (retrieval + layout + budget).
- recall: for call sites of functions defined in another file of the fixture
  workspaces (fixtures/workspaces/recall_cases.jsonl), the share whose definition
  is among the snippets at the default budget.
- cache: typing a call keystroke by keystroke with a completion after each, on
  the real engine: prompt tokens and vLLM's cached tokens per request.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from aicockpit.config import AicockpitConfig, IndexConfig  # noqa: E402
from aicockpit.context import languages  # noqa: E402
from aicockpit.context.documents import DocumentStore  # noqa: E402
from aicockpit.context.open_documents import follow  # noqa: E402
from aicockpit.context.workspace_index import WorkspaceIndex  # noqa: E402
from aicockpit.ending import end_process  # noqa: E402

WORKSPACES = ROOT / "fixtures" / "workspaces"
CASES = WORKSPACES / "recall_cases.jsonl"
CALL = re.compile(r"(?<![\w$])([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def default_model() -> str:
    return str(ROOT / "fixtures" / "tiny_model" / "out")


def target_for(model: str):
    """What the embedded engine on ``model`` takes (its tokenizer and prompt format), without loading it."""
    from aicockpit.config import decode_config
    from aicockpit.engine.offline import offline_target

    config, _ = decode_config({"engine": {"model": model}})
    return offline_target(config)


def run_index(folder: Path, cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server")}
    out = subprocess.run(
        [sys.executable, "-m", "aicockpit", "index", str(folder), "--json", "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout)


def bench_index() -> dict:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    with tempfile.TemporaryDirectory() as cache:
        cold = run_index(stdlib, Path(cache))
        warm = run_index(stdlib, Path(cache))
    keys = ("files", "parsed", "reused", "skipped", "definitions", "seconds", "cpu_seconds", "peak_rss_mb")
    return {
        "tree": str(stdlib),
        "cold": {k: cold[k] for k in keys},
        "warm": {k: warm[k] for k in keys},
    }


def bench_update() -> dict:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "ws"
        folder.mkdir()
        for name in ("json", "email"):  # a realistic project: a few dozen files
            subprocess.run(["cp", "-r", str(stdlib / name), str(folder / name)], check=True)
        index = WorkspaceIndex(IndexConfig(cache_dir=str(Path(scratch) / "cache")))
        project = index.add_folder(folder, persist=True)  # the SQLite write is part of an update
        project.build()
        target = folder / "email" / "message.py"
        timings, cpu_timings = [], []
        for i in range(30):
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(f"\n\ndef added_{i}(value):\n    return value\n")
            started, cpu = time.perf_counter(), time.thread_time()
            project.refresh([target])
            timings.append((time.perf_counter() - started) * 1000)
            cpu_timings.append((time.thread_time() - cpu) * 1000)
            assert project.find_definitions(f"added_{i}"), "the saved definition must be indexed"
        index.close()
    return {
        "file_lines": target_lines(stdlib / "email" / "message.py"),
        "p50_ms": round(statistics.median(timings), 2),
        "max_ms": round(max(timings), 2),
        # CPU time of the thread: what the update costs when the machine is not shared.
        "p50_cpu_ms": round(statistics.median(cpu_timings), 2),
    }


def target_lines(path: Path) -> int:
    return path.read_text(encoding="utf-8").count("\n")


def big_python_file(lines: int = 5000) -> str:
    """A 5,000-line module that calls into its workspace (the Python fixture shop)."""
    parts = [
        "from shop.models import Customer, OrderLine, Product\n",
        "from shop.pricing import lines_total, loyalty_discount, vat\n\n",
    ]
    i = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(
            f"def handler_{i}(customer: Customer, lines: list[OrderLine]) -> int:\n"
            f'    """Handler number {i}."""\n'
            f"    amount = lines_total(lines)\n"
            f"    discount = loyalty_discount(customer, amount)\n"
            f"    if amount > {i * 10}:\n"
            f"        amount -= discount\n"
            f"    return amount + vat(amount)\n\n\n"
        )
        i += 1
    return "".join(parts)


def bench_context(model: str) -> dict:
    from aicockpit.prompt.assemble import PromptAssembler

    target = target_for(model)
    config = AicockpitConfig()
    index = WorkspaceIndex(config.index)
    index.add_folder(WORKSPACES / "python", persist=False).build()
    documents = DocumentStore()
    follow(documents, index)
    assembler = PromptAssembler(documents, index, lambda: config)
    text = big_python_file()
    uri = (WORKSPACES / "python" / "big_module.py").as_uri()
    doc = documents.open(uri, "python", 1, text)
    rng = random.Random(7)
    line_starts = doc.lines.starts
    positions = [line_starts[rng.randrange(len(line_starts))] + 4 for _ in range(200)]
    timings, cpu_timings, sizes = [], [], []
    for n, offset in enumerate(positions):
        if n % 20 == 0:  # a keystroke now and then: the tree and index see edits
            documents.change(uri, doc.version + 1, [])
        started, cpu = time.perf_counter(), time.thread_time()
        pieces = assembler.build(doc, min(offset, len(doc.text)), target).pieces
        timings.append((time.perf_counter() - started) * 1000)
        cpu_timings.append((time.thread_time() - cpu) * 1000)
        sizes.append(sum(pieces.snippet_tokens))
    first = timings[0]
    timings.sort()
    return {
        "file_lines": text.count("\n"),
        "requests": len(timings),
        "first_request_ms": round(first, 2),  # indexes the open file, counts its lines' tokens
        "p50_ms": round(timings[len(timings) // 2], 2),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
        "p50_cpu_ms": round(statistics.median(cpu_timings), 2),
        "p99_cpu_ms": round(sorted(cpu_timings)[int(len(cpu_timings) * 0.99) - 1], 2),
        "mean_context_tokens": round(statistics.mean(sizes), 1),
    }


def write_cases() -> int:
    """Every call of a function defined in another file of the same workspace."""
    cases = []
    for workspace in sorted(p for p in WORKSPACES.iterdir() if p.is_dir()):
        index = WorkspaceIndex(AicockpitConfig().index)
        project = index.add_folder(workspace, persist=False)
        project.build()
        for rel in project.list_files():
            if languages.for_path(rel) is None:
                continue
            text = (workspace / rel).read_text(encoding="utf-8")
            own = {d.name for d in project.definitions_in(rel)}
            for row, line in enumerate(text.split("\n")):
                for match in CALL.finditer(line):
                    name = match.group(1)
                    elsewhere = sorted({d.path for d in project.find_definitions(name) if d.path != rel})
                    if (
                        name in own
                        or not elsewhere
                        or any(d.start_line == row for d in project.definitions_in(rel))
                    ):
                        continue
                    cases.append(
                        {
                            "workspace": workspace.name,
                            "path": rel,
                            "line": row + 1,
                            "col": match.end() + 1,  # just after "(": writing the arguments
                            "name": name,
                            "defined_in": elsewhere,
                        }
                    )
        index.close()
    CASES.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    print(f"{len(cases)} cases written to {CASES}", file=sys.stderr)
    return 0


def bench_recall(model: str) -> dict:
    from aicockpit.context.positions import Position, utf16_len
    from aicockpit.prompt.assemble import PromptAssembler

    target = target_for(model)
    config = AicockpitConfig()
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_workspace: dict[str, list[dict]] = {}
    for case in cases:
        by_workspace.setdefault(case["workspace"], []).append(case)
    hits, per_workspace, misses = 0, {}, []
    for name, group in sorted(by_workspace.items()):
        index = WorkspaceIndex(config.index)
        index.add_folder(WORKSPACES / name, persist=False).build()
        found = 0
        for n, case in enumerate(group):
            documents = DocumentStore()  # each case alone: no open documents, no recent edits
            follow(documents, index)
            assembler = PromptAssembler(documents, index, lambda: config)
            path = WORKSPACES / name / case["path"]
            doc = documents.open(path.as_uri(), "", n, path.read_text(encoding="utf-8"))
            row = case["line"] - 1
            column = utf16_len(doc.lines.line(row)[: case["col"] - 1])
            offset = doc.lines.offset(Position(row, column))
            pieces = assembler.build(doc, offset, target).pieces
            # A hit: a snippet from a defining file covers the definition's first line
            # (its own snippet, or the summary of the class it belongs to).
            targets = [d for _, d in index.find_definitions(case["name"]) if d.path in case["defined_in"]]
            ok = any(
                s.path == d.path and s.start_line <= d.start_line <= s.end_line
                for s in pieces.snippets
                for d in targets
            )
            found += ok
            if not ok:
                misses.append(f"{name}/{case['path']}:{case['line']} {case['name']}")
        per_workspace[name] = {"cases": len(group), "recall": round(found / len(group), 3)}
        hits += found
        index.close()
    return {
        "cases": len(cases),
        "recall": round(hits / len(cases), 3) if cases else 0.0,
        "budget_tokens": config.context.budget_tokens,
        "per_workspace": per_workspace,
        "misses": misses,
    }


STDLIB_PACKAGES = ("asyncio", "email", "json", "http", "urllib", "logging", "importlib", "concurrent")
STDLIB_CASES = 400


def bench_recall_stdlib(model: str) -> dict:
    """The same measure on a big real tree: call sites in stdlib packages of functions
    defined in a module the calling file imports, with the whole stdlib indexed."""
    from aicockpit.context.positions import Position
    from aicockpit.prompt.assemble import PromptAssembler

    target = target_for(model)
    config = AicockpitConfig()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    index = WorkspaceIndex(config.index)
    project = index.add_folder(stdlib, persist=False)
    project.build()
    cases = []
    for rel in project.list_files():
        if not rel.endswith(".py") or rel.split("/", 1)[0] not in STDLIB_PACKAGES:
            continue
        imported = set(project.imports_of(rel))
        own = {d.name for d in project.definitions_in(rel)}
        def_rows = {d.start_line for d in project.definitions_in(rel)}
        text = (stdlib / rel).read_text(encoding="utf-8")
        for row, line in enumerate(text.split("\n")):
            if row in def_rows or line.lstrip().startswith("#"):
                continue
            for match in CALL.finditer(line):
                name = match.group(1)
                targets = [d for d in project.find_definitions(name) if d.path in imported]
                if name not in own and targets:
                    cases.append((rel, row, match.end(), name, targets))
    random.Random(3).shuffle(cases)
    cases = cases[:STDLIB_CASES]
    hits, timings = 0, []
    misses = []
    for n, (rel, row, column, name, targets) in enumerate(cases):
        documents = DocumentStore()
        follow(documents, index)
        assembler = PromptAssembler(documents, index, lambda: config)
        doc = documents.open((stdlib / rel).as_uri(), "python", n, (stdlib / rel).read_text(encoding="utf-8"))
        started = time.perf_counter()
        pieces = assembler.build(doc, doc.lines.offset(Position(row, column)), target).pieces
        timings.append((time.perf_counter() - started) * 1000)
        found = any(
            s.path == d.path and s.start_line <= d.start_line <= s.end_line
            for s in pieces.snippets
            for d in targets
        )
        hits += found
        if not found:
            misses.append(f"{rel}:{row + 1} {name}")
    index.close()
    timings.sort()
    return {
        "tree": str(stdlib),
        "packages": list(STDLIB_PACKAGES),
        "cases": len(cases),
        "recall": round(hits / len(cases), 3) if cases else 0.0,
        "build_p50_ms": round(timings[len(timings) // 2], 2),  # cold: each case is a newly opened file
        "misses_sample": misses[:12],
    }


TYPED = "customer, amount)"


def bench_prefix_cache(model: str) -> dict:
    """Type a call keystroke by keystroke in a workspace file, a completion after each:
    per-request prompt and cached tokens from vLLM (the engine's prefix cache)."""
    import asyncio

    from aicockpit.context.documents import TextChange
    from aicockpit.context.positions import Position
    from aicockpit.engine.host import EngineHost
    from aicockpit.server import App

    async def run() -> dict:
        app = App(
            {"engine": {"model": model, "enforce_eager": True, "max_model_len": 4096}},
            EngineHost(),
        )
        app.index.add_folder(WORKSPACES / "python", persist=False).build()
        app.host.start(app.config.engine)
        try:
            await app.host.wait_ready()
            text = (
                "from shop.pricing import loyalty_discount, vat\n"
                "from shop.models import Customer\n\n\n"
                "def price_for(customer: Customer, amount: int) -> int:\n"
                "    discounted = amount - loyalty_discount(\n"
            )
            uri = (WORKSPACES / "python" / "report.py").as_uri()
            doc = app.documents.open(uri, "python", 1, text)
            rows = []
            for i, ch in enumerate(TYPED):
                end = doc.lines.position(len(doc.text) - 1)
                app.documents.change(uri, i + 2, [TextChange(ch, end, end)])
                cursor = doc.lines.position(len(doc.text) - 1)
                await app.scheduler.complete(uri, Position(cursor.line, cursor.character), invoked=True)
                trace = app.telemetry.summary()["last_request"]
                rows.append((trace["prompt_tokens"], trace["cached_tokens"], len(trace["context"])))
        finally:
            await app.host.stop()
        warm = rows[1:]
        return {
            "keystrokes": len(rows),
            "snippets_per_prompt": rows[-1][2],
            "mean_prompt_tokens": round(statistics.mean(p for p, _, _ in warm), 1),
            "mean_cached_tokens": round(statistics.mean(c for _, c, _ in warm), 1),
            "cached_ratio": round(sum(c for _, c, _ in warm) / sum(p for p, _, _ in warm), 3),
            "per_request": [{"prompt": p, "cached": c} for p, c, _ in rows],
        }

    return asyncio.run(run())


def main() -> int:
    # Stopped from outside (SIGTERM, Ctrl+C): the engine processes go too, not left orphaned.
    signal.signal(signal.SIGTERM, lambda *_: end_process(1))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=default_model(), help="model folder (its tokenizer)")
    parser.add_argument("--only", default="index,update,context,recall,recall_stdlib,cache")
    parser.add_argument("--write-cases", action="store_true")
    args = parser.parse_args()
    if args.write_cases:
        return write_cases()
    wanted = set(args.only.split(","))
    figures: dict = {"machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0]}}
    if "index" in wanted:
        figures["index_stdlib"] = bench_index()
    if "update" in wanted:
        figures["incremental_update"] = bench_update()
    if "context" in wanted:
        figures["context_build"] = bench_context(args.model)
    if "recall" in wanted:
        figures["cross_file_recall"] = bench_recall(args.model)
    if "recall_stdlib" in wanted:
        figures["cross_file_recall_stdlib"] = bench_recall_stdlib(args.model)
    if "cache" in wanted:
        figures["prefix_cache"] = bench_prefix_cache(args.model)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
