"""Completion quality on a real model, with ablations, and what the prompt layout is worth in latency.

    python scripts/bench_quality.py [--model DIR] [--per-kind 8] [--packages a,b]
                                     [--skip-latency | --skip-quality]

Quality. Cases are cut from real code not written here (pure-Python packages
installed in .venv, each copied into a workspace of its own, indexed as a
project): the expected text is removed from the file and the completion is asked
at its place, through aicockpit's own pipeline (the same prompt builder, engine
request and post-processing as over LSP) on the embedded vLLM engine.

- ``mid_line``: inside a call's parentheses with the closing one still right of the cursor;
- ``line_start``: at the indentation of a statement;
- ``call_args``: after ``name(`` where ``name`` is defined in another module of the package;
- ``block_body``: after ``def ...:`` (an indented block is expected).

Per kind: exact match of the first line, edit similarity, the share of
suggestions that leave the file parsing as well as the original did ("valid in
place"), and the share that are empty. Ablations from the same run: without
repository context (a second generation), and without post-processing (the raw
model text of the first).

Latency. ``aicockpit bench`` over LSP with the same model on typing traces,
with vLLM's prefix caching on and off: keystroke-to-ghost-text p50/p95 and the
prompt and cached tokens, so the cache-stable layout is a measured ratio.

Prints one JSON object; a Markdown table goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from aicockpit.context.positions import Position  # noqa: E402
from aicockpit.context.workspace_index import WorkspaceIndex  # noqa: E402
from aicockpit.ending import end_process  # noqa: E402

PACKAGES = ("httpx", "click", "jinja2", "starlette", "requests", "urllib3", "anyio", "httpcore")
KINDS = ("mid_line", "line_start", "call_args", "block_body")
DEF_LINE = re.compile(r"^(\s*)(async\s+)?def\s+\w+\(.*\)\s*(->\s*[^:]+)?:\s*$")
CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(")
SKIP_LINE = re.compile(
    r"^\s*(#|@|def |class |async def |\"\"\"|'''|import |from |else:|try:|finally:|except)"
)
BLOCK_LINES = 6
LATENCY_TRACES = ("new_function_body.json", "accept_suggestions.json")


@dataclass
class Case:
    kind: str
    package: str
    rel: str
    text: str  # the file with the expected text removed
    line: int
    column: int  # characters
    expected: str
    original: str


def default_model() -> str:
    return str(ROOT / ".cache" / "models" / "SmolLM2-135M-Instruct")


def site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


# -- cases ----------------------------------------------------------------------------------


def cut(text: str, line: int, start: int, end: int) -> str:
    lines = text.split("\n")
    lines[line] = lines[line][:start] + lines[line][end:]
    return "\n".join(lines)


def closing_paren(line: str, opening: int) -> int | None:
    depth = 0
    for at in range(opening, len(line)):
        if line[at] == "(":
            depth += 1
        elif line[at] == ")":
            depth -= 1
            if depth == 0:
                return at
    return None


def file_cases(package: str, rel: str, text: str, cross_file: set[str]) -> dict[str, list[Case]]:
    out: dict[str, list[Case]] = {kind: [] for kind in KINDS}
    lines = text.split("\n")
    for row, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or SKIP_LINE.match(line) or len(line) > 100:
            continue
        indent = len(line) - len(line.lstrip())
        if not line.rstrip().endswith((":", ",", "(", "\\")) and '"' not in line and "'" not in line:
            out["line_start"].append(
                Case(
                    "line_start", package, rel, cut(text, row, indent, len(line)), row, indent, stripped, text
                )
            )
        for match in CALL.finditer(line):
            opening = match.end() - 1
            closing = closing_paren(line, opening)
            if closing is None or closing - opening < 3 or "(" in line[opening + 1 : closing]:
                continue
            kind = "call_args" if match.group(1) in cross_file else "mid_line"
            expected = line[opening + 1 : closing]
            out[kind].append(
                Case(
                    kind, package, rel, cut(text, row, opening + 1, closing), row, opening + 1, expected, text
                )
            )
            break
    for row, line in enumerate(lines[:-1]):
        head = DEF_LINE.match(line)
        if not head:
            continue
        body_indent = len(head.group(1)) + 4
        body = []
        for following in lines[row + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) < body_indent:
                break
            body.append(following)
        while body and not body[-1].strip():
            body.pop()
        if not body or body[0].strip().startswith(('"""', "'''", "#", "...")) or len(body) > 40:
            continue
        expected = "\n".join(b[body_indent:] for b in body[:BLOCK_LINES])
        remaining = lines[: row + 1] + [" " * body_indent] + lines[row + 1 + len(body) :]
        out["block_body"].append(
            Case("block_body", package, rel, "\n".join(remaining), row + 1, body_indent, expected, text)
        )
    return out


def cases_for(package: str, root: Path, per_kind: int, seed: int) -> list[Case]:
    index = WorkspaceIndex()
    project = index.add_folder(root, persist=False)
    project.build()
    pool: dict[str, list[Case]] = {kind: [] for kind in KINDS}
    for rel in project.list_files():
        if not rel.endswith(".py") or "/tests/" in rel:
            continue
        imported = set(project.imports_of(rel))
        own = {d.name for d in project.definitions_in(rel)}
        cross_file = {
            d.name for target in imported for d in project.definitions_in(target) if d.name not in own
        }
        text = (root / rel).read_text(encoding="utf-8")
        for kind, found in file_cases(package, rel, text, cross_file).items():
            pool[kind] += found
    index.close()
    rng = random.Random(seed)
    chosen = []
    for kind in KINDS:
        rng.shuffle(pool[kind])
        chosen += pool[kind][:per_kind]
    return chosen


# -- scoring --------------------------------------------------------------------------------


def first_line(text: str) -> str:
    return text.strip("\n").split("\n")[0].strip()


def similarity(predicted: str, expected: str, kind: str) -> float:
    if kind != "block_body":
        predicted, expected = first_line(predicted), first_line(expected)
    else:
        predicted = "\n".join(predicted.split("\n")[: expected.count("\n") + 1])
    return difflib.SequenceMatcher(None, predicted.strip(), expected.strip()).ratio()


class Syntax:
    def __init__(self) -> None:
        from aicockpit.context import languages

        spec = languages.for_path("x.py")
        self._parser = languages.grammar(spec).parser()

    def errors(self, text: str) -> bool:
        tree = self._parser.parse(text.encode("utf-8"))
        return tree.root_node.has_error


def insert(case: Case, suggestion: str) -> str:
    lines = case.text.split("\n")
    line = lines[case.line]
    lines[case.line] = line[: case.column] + suggestion + line[case.column :]
    return "\n".join(lines)


def score(results: list[dict], syntax: Syntax, key: str) -> dict:
    out = {}
    for kind in KINDS:
        rows = [r for r in results if r["kind"] == kind]
        if not rows:
            continue
        valid = [not syntax.errors(insert(r["case"], r[key])) for r in rows if not r["original_errors"]]
        out[kind] = {
            "cases": len(rows),
            "exact_first_line": round(
                sum(first_line(r[key]) == first_line(r["expected"]) for r in rows) / len(rows), 3
            ),
            "edit_similarity": round(
                sum(similarity(r[key], r["expected"], kind) for r in rows) / len(rows), 3
            ),
            "valid_in_place": round(sum(valid) / len(valid), 3) if valid else None,
            "empty": round(sum(not r[key].strip() for r in rows) / len(rows), 3),
        }
    return out


# -- running --------------------------------------------------------------------------------


# Context variants: (context settings) over the base. ``full`` and ``no_context`` are the
# default run; ``--context-ablation`` adds each source alone and a smaller budget.
VARIANTS = {
    "full": {"enabled": True, "budget_tokens": 512},
    "no_context": {"enabled": False},
}
ABLATION = {
    "definitions_512": {"enabled": True, "budget_tokens": 512, "similar_code": False, "recent_edits": False},
    "definitions_256": {"enabled": True, "budget_tokens": 256, "similar_code": False, "recent_edits": False},
    "similar_512": {"enabled": True, "budget_tokens": 512, "definitions": False, "recent_edits": False},
}


async def complete_all(model: str, roots: dict[str, Path], cases: list[Case], variants: dict) -> dict:
    """Each case through the completion pipeline, once per context variant: raw and post-processed text.

    One engine serves every variant; its prefix cache is emptied between them, so that
    each variant's prompts are prefilled cold, as the first keystroke at a place is.
    """
    from aicockpit.engine.collect import generate_text
    from aicockpit.engine.host import EngineHost
    from aicockpit.server import App

    limits = {"first_token_timeout_ms": 300_000, "timeout_ms": 300_000}
    base = {
        "engine": {"model": model, "enforce_eager": True, "max_model_len": 4096, "multiprocessing": False},
        # A fixed code budget (the latency target's on this CPU), so that only the context varies.
        "completion": {"max_tokens": 32, "prefix_tokens": 768},
        "roles": {"completion": limits},
        "usage": {"enabled": False},
    }
    app = App(base, EngineHost())
    for root in roots.values():
        app.index.add_folder(root, persist=False).build()
    await app.router.apply(app.config)
    await app.router.wait_ready("completion")
    results: dict[str, list[dict]] = {}
    try:
        for name, context in variants.items():
            app.configure({**base, "context": context})
            await app.host.engine.reset_prefix_cache()
            engine = app.router.for_role("completion")
            rows = results[name] = []
            for number, case in enumerate(cases):
                uri = (roots[case.package] / case.rel).as_uri()
                app.documents.open(uri, "python", number + 1, case.text)
                doc = app.documents.get(uri)
                character = len(doc.lines.line(case.line)[: case.column].encode("utf-16-le")) // 2
                cursor, _ = app.completions.locate(uri, Position(case.line, character))
                prepared = app.completions.prepare(cursor, engine)
                started = time.perf_counter()
                generated = await generate_text(engine, prepared.request)
                rows.append(
                    {
                        "kind": case.kind,
                        "case": case,
                        "expected": case.expected,
                        "raw": generated.text,
                        "shaped": app.completions.shape(generated.text, prepared),
                        "prompt_tokens": generated.prompt_tokens,
                        "snippets": len(prepared.context),
                        "seconds": time.perf_counter() - started,
                    }
                )
                app.documents.close(uri)
                if number % 20 == 0:
                    print(f"quality ({name}): {number}/{len(cases)}", file=sys.stderr)
    finally:
        await app.router.stop()
    return results


def latency(model: str, caching: bool, timeout_ms: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "bench.json"
        command = [sys.executable, "-m", "aicockpit", "bench", "--model", model, "--enforce-eager"]
        command += ["--max-model-len", "4096", "--max-tokens", "24", "--timeout-ms", str(timeout_ms)]
        command += [
            "--out",
            str(out),
            "--traces",
            *[str(ROOT / "fixtures" / "traces" / t) for t in LATENCY_TRACES],
        ]
        if not caching:
            command.append("--no-prefix-caching")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "server")}
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        report = json.loads(out.read_text())
    overall = report["overall"]
    traces = report["traces"].values()
    return {
        "e2e_latency_ms": overall["e2e_latency_ms"],
        "prefix_cache_hit_ratio": overall["prefix_cache_hit_ratio"],
        # Per answered request: the e2e figures are theirs (most keystrokes are superseded by the next).
        "answered": sum(t["answered"] for t in traces),
        "prompt_tokens": overall["prompt_tokens"],
        "cached_tokens": overall["cached_tokens"],
        "outcomes": overall["outcomes"],
        "next_edit": report.get("next_edit"),  # the editing trace, on the same model
    }


def trio(cells: list, field: str) -> str:
    return " / ".join("-" if c is None or c[field] is None else f"{c[field]:.2f}" for c in cells)


def table(figures: dict) -> str:
    rows = [
        "| kind | cases | exact first line | edit similarity | valid in place | empty |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in KINDS:
        cells = []
        for variant in ("full", "no_context", "no_postprocessing"):
            row = figures["quality"][variant].get(kind)
            cells.append(row)
        if not cells[0]:
            continue

        rows.append(
            f"| {kind} | {cells[0]['cases']} | {trio(cells, 'exact_first_line')} | "
            f"{trio(cells, 'edit_similarity')} | {trio(cells, 'valid_in_place')} | {trio(cells, 'empty')} |"
        )
    out = (
        "\n".join(rows)
        + "\n\n(each cell: full pipeline / without repository context / without post-processing)"
    )
    ablated = [name for name in figures["quality"] if name in ABLATION]
    if ablated:
        names = ["no_context", *ablated, "full"]
        out += "\n\n| context | prompt tokens | s per case | " + " | ".join(KINDS) + " |\n"
        out += "| --- | --- | --- | " + " | ".join("---" for _ in KINDS) + " |\n"
        for name in names:
            cells = [figures["quality"][name].get(kind) for kind in KINDS]
            shown = " | ".join(
                "-" if c is None else f"{c['exact_first_line']:.2f} / {c['edit_similarity']:.2f}"
                for c in cells
            )
            out += (
                f"| {name} | {figures['mean_prompt_tokens'][name]} | {figures['mean_seconds_per_case'][name]}"
                f" | {shown} |\n"
            )
        out += "\n(each kind: exact first line / edit similarity)"
    return out


def quality(args) -> dict:
    """The cases, each completed with and without repository context, scored."""
    figures: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        roots, cases = {}, []
        for package in args.packages.split(","):
            source = site_packages() / package
            if not source.is_dir():
                continue
            root = Path(scratch) / f"{package}-project"
            shutil.copytree(source, root / package, ignore=shutil.ignore_patterns("__pycache__"))
            (root / ".git").mkdir()
            roots[package] = root
            cases += cases_for(package, root, args.per_kind, args.seed)
        syntax = Syntax()
        variants = {**VARIANTS, **(ABLATION if args.context_ablation else {})}
        runs = asyncio.run(complete_all(args.model, roots, cases, variants))
        for rows in runs.values():
            for r in rows:
                r["original_errors"] = syntax.errors(r["case"].original)
        full = runs["full"]
        figures["cases"] = len(cases)
        figures["packages"] = sorted(roots)
        figures["quality"] = {name: score(rows, syntax, "shaped") for name, rows in runs.items()}
        figures["quality"]["no_postprocessing"] = score(full, syntax, "raw")
        figures["mean_prompt_tokens"] = {
            name: round(sum(r["prompt_tokens"] for r in rows) / len(rows), 1) for name, rows in runs.items()
        }
        figures["mean_seconds_per_case"] = {
            name: round(sum(r["seconds"] for r in rows) / len(rows), 2) for name, rows in runs.items()
        }
        figures["mean_snippets"] = round(sum(r["snippets"] for r in full) / len(full), 2)
        figures["examples"] = [
            {"kind": r["kind"], "expected": r["expected"][:120], "suggested": r["shaped"][:120]}
            for r in full[:: max(1, len(full) // 8)]
        ]
    return figures


def main() -> int:
    # Stopped from outside (SIGTERM, Ctrl+C): the engine processes go too, not left orphaned.
    signal.signal(signal.SIGTERM, lambda *_: end_process(1))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=default_model())
    parser.add_argument("--packages", default=",".join(PACKAGES))
    parser.add_argument("--per-kind", type=int, default=7, help="cases per kind and package")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-quality", action="store_true", help="only the latency part")
    parser.add_argument("--latency-timeout-ms", type=int, default=10000)
    parser.add_argument(
        "--context-ablation",
        action="store_true",
        help="also each context source alone and a smaller context budget (how much context pays)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(ROOT / ".cache" / "vllm"))
    started = time.perf_counter()
    figures: dict = {
        "model": args.model,
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0]},
    }
    if not args.skip_quality:
        figures.update(quality(args))
    if not args.skip_latency:
        figures["latency"] = {
            "prefix_caching_on": latency(args.model, True, args.latency_timeout_ms),
            "prefix_caching_off": latency(args.model, False, args.latency_timeout_ms),
        }
        on, off = figures["latency"]["prefix_caching_on"], figures["latency"]["prefix_caching_off"]
        figures["latency"]["p50_ratio_off_to_on"] = round(
            off["e2e_latency_ms"]["p50"] / on["e2e_latency_ms"]["p50"], 2
        )
    figures["seconds"] = round(time.perf_counter() - started, 1)
    if "quality" in figures:
        print(table(figures), file=sys.stderr)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
