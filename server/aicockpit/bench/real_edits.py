"""Next-edit traces cut from real code: the Python packages installed beside aicockpit.

Two kinds, each a whole module as the document:

- ``rename``: a parameter of a function renamed at its binding, key by key; what the user
  would write next is every use of it renamed (by Python's own ``ast``: the function's
  names that are that parameter, none in a nested scope that binds it again);
- ``repeat``: a call changed at its first two places, by turns ``, strict=True`` added
  before its closing parenthesis and the call wrapped in ``list(...)``; what the user
  would write next is the same change at every other call of the same function in the
  module.

Nothing here is stored: the traces are made when the bench runs, from whatever versions
are installed (the report names them), in a fixed order with a fixed seed.
"""

from __future__ import annotations

import ast
import importlib.util
import random
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("click", "jinja2", "httpx", "packaging", "pygls", "requests", "pygments", "rich", "idna")
MAX_MODULE_CHARS = 200_000
KEY_GAP_MS = 30
ADDED = ", strict=True"
# A trace's events: [ms after the previous one, op, its argument] (bench/replay.py plays them);
# a walk's changes: [start, end, text].
Event = list[Any]
Edit = list[Any]


@dataclass(frozen=True)
class Change:
    start: int  # string offsets in the text at the time the walk starts
    end: int
    text: str


def real_edit_traces(count: int, seed: int = 22) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Up to ``count`` rename and ``count`` repeat traces, and the package versions they came from."""
    rng = random.Random(seed)
    renames, repeats, versions = [], [], {}
    for package in PACKAGES:
        files = _module_files(package)
        if not files:
            continue
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "?"
        for path in files:
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(text) > MAX_MODULE_CHARS or "\t" in text:
                continue
            try:
                tree = ast.parse(text)
            except SyntaxError:
                continue
            name = f"{package}/{path.name}"
            renames += [t for t in _renames(text, tree, name)]
            repeats += [t for t in _repeats(text, tree, name)]
    rng.shuffle(renames)
    rng.shuffle(repeats)
    return renames[:count] + repeats[:count], versions


def _module_files(package: str) -> list[Path]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations)))
    return sorted(p for p in root.rglob("*.py") if "test" not in p.name)


def _offsets(text: str) -> list[int]:
    starts, at = [0], 0
    for line in text.split("\n"):
        at += len(line) + 1
        starts.append(at)
    return starts


def _offset(text: str, starts: list[int], line: int, column: int) -> int:
    """A string offset from ast's line (1-based) and UTF-8 byte column."""
    line_text = text[starts[line - 1] : starts[line] - 1] if line < len(starts) else ""
    return starts[line - 1] + len(line_text.encode("utf-8")[:column].decode("utf-8", "replace"))


def _renames(text: str, tree: ast.Module, name: str) -> list[dict[str, Any]]:
    starts = _offsets(text)
    module_names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    module_names |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args}
    traces = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for arg in function.args.args + function.args.kwonlyargs:
            if arg.arg in ("self", "cls") or len(arg.arg) < 2:
                continue
            uses = _uses(function, arg.arg)
            if uses is None or len(uses) < 2:
                continue
            new = f"{arg.arg}_value"
            if new in module_names:
                continue
            at = _offset(text, starts, arg.lineno, arg.col_offset)
            shift = len(new) - len(arg.arg)
            changes = [
                Change(o + (shift if o > at else 0), o + (shift if o > at else 0) + len(arg.arg), new)
                for o in (_offset(text, starts, u.lineno, u.col_offset) for u in uses)
            ]
            events: list[Event] = [[0, "move", at + len(arg.arg)]]
            events += [[KEY_GAP_MS, "delete", 1] for _ in arg.arg]
            events += [[KEY_GAP_MS, "type", ch] for ch in new]
            events.append([300, "walk", [[c.start, c.end, c.text] for c in changes]])
            label = f"{name}:{function.name}({arg.arg})"
            traces.append(_trace("rename", label, text, events))
            break  # one parameter per function
    return traces


def _uses(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> list[ast.Name] | None:
    """The parameter's uses in the function's body (its decorators, defaults and annotations
    are evaluated outside it); None when a nested scope, an f-string, a keyword argument or a
    ``global``/``nonlocal`` makes the answer depend on more than names."""
    uses = []
    for node in (n for statement in function.body for n in ast.walk(statement)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)) or (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                and any(a.arg == name for a in node.args.args + node.args.kwonlyargs)
            ):
                return None
        elif isinstance(node, ast.comprehension | ast.Global | ast.Nonlocal | ast.JoinedStr):
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)) or (
                isinstance(node, ast.Global | ast.Nonlocal) and name in node.names
            ):
                return None
        elif isinstance(node, ast.keyword) and node.arg == name:
            return None
        elif isinstance(node, ast.Name) and node.id == name:
            uses.append(node)
    return sorted(uses, key=lambda n: (n.lineno, n.col_offset))


def _repeats(text: str, tree: ast.Module, name: str) -> list[dict[str, Any]]:
    starts = _offsets(text)
    groups: dict[str, list[ast.Call]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (node.args or node.keywords):
            callee = ast.get_source_segment(text, node.func)
            if callee and "\n" not in callee:
                groups.setdefault(callee, []).append(node)
    traces = []
    for number, (callee, calls) in enumerate(sorted(groups.items())):
        calls = sorted(calls, key=lambda c: (c.lineno, c.col_offset))
        if len(calls) < 3 or len({c.lineno for c in calls}) != len(calls):
            continue
        # The user changes the first two calls, one-line calls of positional arguments: what
        # they would change next is every other call of the function, whatever its arguments.
        if any(c.keywords or c.end_lineno != c.lineno for c in calls[:2]):
            continue
        closes = [_offset(text, starts, *_end(c)) - 1 for c in calls]
        if any(text[at] != ")" for at in closes):
            continue
        if number % 2:
            opens = [_offset(text, starts, c.lineno, c.col_offset) for c in calls]
            events, changes = _wrapped(text, list(zip(opens, [at + 1 for at in closes], strict=True)))
        else:
            events, changes = _appended(closes)
        events.append([300, "walk", changes])
        traces.append(_trace("repeat", f"{name}:{callee}()", text, events))
    return traces


def _end(node: ast.expr) -> tuple[int, int]:
    """Where ``node`` ends (line, column): ``ast.parse`` sets both on every node it makes."""
    assert node.end_lineno is not None and node.end_col_offset is not None
    return node.end_lineno, node.end_col_offset


def _appended(closes: list[int]) -> tuple[list[Event], list[Edit]]:
    """``, strict=True`` typed before the first two calls' ``)``; the same at the others next."""
    events: list[Event] = [[0, "move", closes[0]]]
    events += [[KEY_GAP_MS, "type", ch] for ch in ADDED]
    events.append([400, "move", closes[1] + len(ADDED)])
    events += [[KEY_GAP_MS, "type", ch] for ch in ADDED]
    shift = 2 * len(ADDED)
    return events, [[at + shift, at + shift, ADDED] for at in closes[2:]]


def _wrapped(text: str, calls: list[tuple[int, int]]) -> tuple[list[Event], list[Edit]]:
    """The first two calls wrapped in ``list(...)`` by typing; the same at the others next."""
    events: list[Event] = []
    shift = 0
    for start, end in calls[:2]:
        events.append([400, "move", start + shift])
        events += [[KEY_GAP_MS, "type", ch] for ch in "list("]
        events.append([KEY_GAP_MS, "move", end + shift + len("list(")])
        events.append([KEY_GAP_MS, "type", ")"])
        shift += len("list()")
    changes = [[s + shift, e + shift, f"list({text[s:e]})"] for s, e in calls[2:]]
    return events, changes


def _trace(kind: str, label: str, text: str, events: list[Event]) -> dict[str, Any]:
    return {
        "name": f"{kind}:{label}",
        "kind": kind,
        "description": label,
        "language": "python",
        "text": text,
        "cursor": 0,
        "events": events,
    }
