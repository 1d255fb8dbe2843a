"""Cross-file context measured where it counts: in the prompt the model receives.

    python scripts/bench_model_input.py [--model DIR] [--per-package 25] [--packages httpx,click,...]

Cases are call sites in real packages not written here (pure-Python libraries
installed in .venv, each copied into a workspace of its own): the cursor right
after ``name(`` where ``name`` is a function or class defined in another module
the calling file imports. For each case, the definition counts as delivered when
its first line is in the repository context of the prompt. Three paths:

- ``lsp``: a real ``aicockpit serve`` whose completion role points at a recording
  OpenAI-compatible server; each case is opened and completed over LSP once the
  index is ready, and the request body is checked;
- ``lsp_cold``: the same, with completions asked while the index is still crawling
  (a user who types at once);
- ``lsp_no_tokenizer``: the profile names no tokenizer (budgets at ~4 characters a token);
- ``lsp_documents_kept_open``: every case's file stays open, as in an editor with many tabs;
- ``cli``: ``aicockpit context --batch`` on the same cases, checking its printed prompt.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT))

from aicockpit.bench.client import LspClient  # noqa: E402
from aicockpit.config import ROLES, AicockpitConfig  # noqa: E402
from aicockpit.context.workspace_index import WorkspaceIndex  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

VARIANTS = {
    "cli": None,
    "lsp": {},
    "lsp_cold": {"wait_for_index": False},
    "lsp_no_tokenizer": {"tokenizer": False},
    "lsp_documents_kept_open": {"keep_open": True},
}
PACKAGES = ("httpx", "click", "jinja2", "starlette", "requests", "urllib3", "anyio", "httpcore")
CALL = re.compile(r"(?<![\w$.])([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def default_model() -> str:
    return str(ROOT / "fixtures" / "tiny_model" / "out")


def site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


def make_workspaces(scratch: Path, packages: list[str]) -> dict[str, Path]:
    roots = {}
    for name in packages:
        source = site_packages() / name
        if not source.is_dir():
            continue
        root = scratch / f"{name}-project"
        shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        (root / ".git").mkdir()
        roots[name] = root
    return roots


def cases_for(root: Path, limit: int, seed: int) -> list[dict]:
    """Call sites of functions defined in a module the calling file imports (not its own)."""
    index = WorkspaceIndex(AicockpitConfig().index)
    project = index.add_folder(root, persist=False)
    project.build()
    found = []
    for rel in project.list_files():
        if not rel.endswith(".py"):
            continue
        imported = set(project.imports_of(rel))
        own = {d.name for d in project.definitions_in(rel)}
        def_rows = {d.start_line for d in project.definitions_in(rel)}
        text = (root / rel).read_text(encoding="utf-8")
        lines = text.split("\n")
        for row, line in enumerate(lines):
            if row in def_rows or line.lstrip().startswith(("#", "def ", "class ", "import ", "from ")):
                continue
            for match in CALL.finditer(line):
                name = match.group(1)
                targets = [d for d in project.find_definitions(name) if d.path in imported]
                if name in own or not targets or len(targets) > 1:
                    continue
                d = targets[0]
                first = (root / d.path).read_text(encoding="utf-8").split("\n")[d.start_line].strip()
                found.append({"path": rel, "row": row, "col": match.end(), "name": name, "first_line": first})
    index.close()
    random.Random(seed).shuffle(found)
    return found[:limit]


def context_part(prompt: str, rel: str) -> str:
    """The prompt up to the current file's own code (the repository context)."""
    for marker in (f"<|file_sep|>{rel}\n", f"<file_sep>{rel}\n", f"# {rel}\n"):
        if marker in prompt:
            return prompt[: prompt.index(marker)]
    return prompt


def delivered(prompt: str, case: dict) -> bool:
    return case["first_line"] in context_part(prompt, case["path"])


def run_cli(root: Path, cases: list[dict], model: str, env: dict) -> list[bool]:
    lines = "".join(
        json.dumps({"path": str(root / c["path"]), "line": c["row"] + 1, "col": c["col"] + 1}) + "\n"
        for c in cases
    )
    out = subprocess.run(
        [sys.executable, "-m", "aicockpit", "context", "--batch", "-", "--workspace", str(root)]
        + ["--model", model, "--no-cache"],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    results = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return [delivered(r.get("prompt", ""), c) for r, c in zip(results, cases, strict=True)]


async def run_lsp(
    root: Path,
    cases: list[dict],
    model: str,
    env: dict,
    wait_for_index: bool = True,
    tokenizer: bool = True,
    keep_open: bool = False,
) -> list[bool]:
    """Over LSP; ``tokenizer``: the profile names the model's tokenizer (else ~4 characters a token);
    ``keep_open``: documents stay open, as in an editor with many tabs."""
    async with FakeOpenAI(pieces=("x",)) as recorder:
        profile = {"backend": "openai", "url": recorder.url, "model": "m"}
        if tokenizer:
            profile["tokenizer"] = model
        options = {
            "profiles": {"rec": profile},
            "roles": {r: {"profile": "rec"} for r in ROLES},
            "completion": {"debounce_min_ms": 0, "debounce_max_ms": 0, "prefetch": False},
        }
        command = [sys.executable, "-m", "aicockpit", "serve", "--model", model]
        client = await LspClient.spawn(command, env)
        try:
            await client.request(
                "initialize",
                {
                    "processId": os.getpid(),
                    "rootUri": root.as_uri(),
                    "capabilities": {},
                    "initializationOptions": options,
                },
            )
            client.notify("initialized", {})
            while (await client.request("aicockpit/stats", None))["backends"]["rec"]["state"] != "ready":
                await asyncio.sleep(0.05)
            if wait_for_index:
                while (
                    not (index := await client.request("aicockpit/index", None))["folders"]
                    or not index["ready"]
                ):
                    await asyncio.sleep(0.1)
            hits = []
            for n, case in enumerate(cases):
                uri = (root / case["path"]).as_uri()
                text = (root / case["path"]).read_text(encoding="utf-8")
                client.notify(
                    "textDocument/didOpen",
                    {"textDocument": {"uri": uri, "languageId": "python", "version": n + 1, "text": text}},
                )
                before = len(recorder.seen)
                line = text.split("\n")[case["row"]]
                character = len(line[: case["col"]].encode("utf-16-le")) // 2
                await client.request(
                    "textDocument/inlineCompletion",
                    {
                        "textDocument": {"uri": uri},
                        "position": {"line": case["row"], "character": character},
                        "context": {"triggerKind": 1},
                    },
                )
                bodies = [s.body for s in recorder.seen[before:] if s.path.endswith("/completions")]
                hits.append(bool(bodies) and delivered(bodies[-1]["prompt"], case))
                if not keep_open:
                    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            return hits
        finally:
            await client.close()


def share(hits: list[bool]) -> float:
    return round(sum(hits) / len(hits), 3) if hits else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=default_model(), help="model folder (its tokenizer)")
    parser.add_argument("--packages", default=",".join(PACKAGES))
    parser.add_argument("--per-package", type=int, default=25)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server"), "HF_HUB_OFFLINE": "1"}
    figures: dict = {"machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0]}, "packages": {}}
    totals: dict[str, list[bool]] = {key: [] for key in VARIANTS}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        env["AICOCKPIT_CACHE_DIR"] = str(Path(scratch) / "cache")
        for name, root in make_workspaces(Path(scratch), args.packages.split(",")).items():
            cases = cases_for(root, args.per_package, args.seed)
            if not cases:
                continue
            row = {"cli": run_cli(root, cases, args.model, env)}
            for key, variant in VARIANTS.items():
                if variant is not None:
                    row[key] = asyncio.run(run_lsp(root, cases, args.model, env, **variant))
            for key in totals:
                totals[key] += row[key]
            figures["packages"][name] = {
                "cases": len(cases),
                **{key: share(row[key]) for key in totals},
                "misses_lsp": [
                    f"{c['path']}:{c['row'] + 1} {c['name']}"
                    for c, hit in zip(cases, row["lsp"], strict=True)
                    if not hit
                ][:5],
            }
            print(f"{name}: {figures['packages'][name]}", file=sys.stderr)
    figures["cases"] = len(totals["cli"])
    figures["delivered"] = {key: share(hits) for key, hits in totals.items()}
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
