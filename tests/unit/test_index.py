"""The project index: crawl policy, updates, the SQLite cache, bad inputs, the query API."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from aicockpit.cache_dirs import workspace_cache_dir
from aicockpit.config import IndexConfig
from aicockpit.context.watch import ChangeCoalescer
from aicockpit.context.workspace import PathOutsideWorkspace, SecretPath
from aicockpit.context.workspace_index import WorkspaceIndex
from tests.support import ROOT

FIXTURES = ROOT / "fixtures" / "workspaces"


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def open_index(root: Path, cache: Path, **config):
    index = WorkspaceIndex(IndexConfig(cache_dir=str(cache), **config))
    project = index.add_folder(root)
    return index, project


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    write(root, "pkg/__init__.py", "")
    write(root, "pkg/core.py", 'def solve(x):\n    """Solve it."""\n    return x\n')
    write(root, "main.py", "from pkg.core import solve\n\nprint(solve(1))\n")
    return root


def names(project) -> set[str]:
    return {d.name for rel in project.list_files() for d in project.definitions_in(rel)}


def test_create_modify_delete_and_rename_update_the_index(workspace, tmp_path):
    index, project = open_index(workspace, tmp_path / "cache")
    project.build()
    assert [d.path for d in project.find_definitions("solve")] == ["pkg/core.py"]

    created = write(workspace, "pkg/extra.py", "def helper():\n    pass\n")
    project.refresh([created])
    assert project.find_definitions("helper")[0].path == "pkg/extra.py"

    write(workspace, "pkg/extra.py", "def helper(a, b):\n    pass\n")
    project.refresh([created])
    assert project.find_definitions("helper")[0].signature == "def helper(a, b):"

    renamed = workspace / "pkg" / "moved.py"
    created.rename(renamed)
    project.refresh([created, renamed])
    assert [d.path for d in project.find_definitions("helper")] == ["pkg/moved.py"]
    assert "pkg/extra.py" not in project.list_files()

    renamed.unlink()
    project.refresh([renamed])
    assert project.find_definitions("helper") == []
    index.close()


def test_a_folder_renamed_or_a_burst_of_events_rescans(workspace, tmp_path):
    index, project = open_index(workspace, tmp_path / "cache")
    project.build()
    (workspace / "pkg").rename(workspace / "lib")
    project.refresh([workspace / "pkg", workspace / "lib"])
    assert project.find_definitions("solve")[0].path == "lib/core.py"
    for i in range(250):  # a branch switch
        write(workspace, f"gen/m{i}.py", f"def f{i}():\n    pass\n")
    stats = project.refresh([workspace / "gen" / f"m{i}.py" for i in range(250)])
    assert stats.files == len(project.list_files()) and project.find_definitions("f249")
    index.close()


def test_secrets_are_never_indexed_listed_or_resolved(workspace, tmp_path):
    for rel in (".env", ".env.local", "id_rsa", "deploy/server.pem", "tls.key", "credentials.json", ".npmrc"):
        write(workspace, rel, "SECRET=hunter2\ndef leaked():\n    pass\n")
    write(workspace, "config/settings.py", "DEBUG = False\n")
    index, project = open_index(workspace, tmp_path / "cache")
    project.build()
    files = project.list_files()
    assert "config/settings.py" in files
    assert not any(f.endswith((".env", ".env.local", "id_rsa", ".pem", ".key", ".npmrc")) for f in files)
    assert "credentials.json" not in files and project.fuzzy_find("env") == []
    for rel in (".env", "deploy/server.pem", "config/../.env"):
        with pytest.raises(SecretPath):
            project.resolve_path(rel)
    # A file event for a secret does not index it either.
    project.refresh([workspace / ".env"])
    assert ".env" not in project.list_files()
    index.close()


def test_gitignore_and_the_exclude_list_are_honoured(workspace, tmp_path):
    write(workspace, ".gitignore", "build/\n*.log\n!keep.log\n/generated_*.py\n")
    write(workspace, "build/out.py", "def built():\n    pass\n")
    write(workspace, "debug.log", "x")
    write(workspace, "keep.log", "x")
    write(workspace, "generated_api.py", "def api():\n    pass\n")
    write(workspace, "sub/generated_ok.py", "def ok():\n    pass\n")
    write(workspace, "node_modules/dep/index.js", "function dep() {}\n")
    write(workspace, "vendor/lib.go", "package lib\nfunc Vendored() {}\n")
    write(workspace, "skipme/x.py", "def skipped():\n    pass\n")
    index, project = open_index(
        workspace, tmp_path / "cache", exclude=["node_modules/", "vendor/", "skipme/"]
    )
    project.build()
    files = project.list_files()
    assert "keep.log" in files and "debug.log" not in files
    assert "sub/generated_ok.py" in files and "generated_api.py" not in files
    assert not any(f.startswith(("build/", "node_modules/", "vendor/", "skipme/")) for f in files)
    write(workspace, "build/late.py", "def late():\n    pass\n")
    project.refresh([workspace / "build" / "late.py"])
    assert project.find_definitions("late") == []
    index.close()


def test_nested_gitignores_secrets_in_subfolders_and_an_invalid_line(workspace, tmp_path):
    # "!" alone and a trailing backslash are lines git rejects: they cost only themselves.
    write(workspace, ".gitignore", "!\n*.tmp\nout\\\ndocs/**/draft_*.md\n")
    write(workspace, "pkg/.gitignore", "fixtures/\n!keep.tmp\n")
    for rel in ("a.tmp", "pkg/keep.tmp", "pkg/fixtures/data.py", "docs/x/y/draft_1.md", "docs/final.md"):
        write(workspace, rel, "x = 1\n")
    write(workspace, "deep/er/id_ed25519", "PRIVATE KEY\n")
    write(workspace, "deep/er/service-account-prod.json", "{}\n")
    index, project = open_index(workspace, tmp_path / "cache")
    project.build()
    files = project.list_files()
    assert "pkg/keep.tmp" in files and "docs/final.md" in files
    assert not {"a.tmp", "pkg/fixtures/data.py", "docs/x/y/draft_1.md"} & set(files)
    assert not any(f.startswith("deep/") for f in files)
    for rel in ("deep/er/id_ed25519", "deep/er/service-account-prod.json"):
        with pytest.raises(SecretPath):
            project.resolve_path(rel)
    gitignored = project.workspace.gitignored
    assert gitignored("pkg/fixtures/late.py") and not gitignored("pkg/x.py")
    index.close()


def test_a_folder_named_in_the_secrets_list_covers_everything_in_it(workspace, tmp_path):
    write(workspace, "private/deploy/token.txt", "hunter2\n")
    write(workspace, "privateer.py", "def sail():\n    pass\n")
    index, project = open_index(workspace, tmp_path / "cache", secrets=["private/"])
    project.build()
    assert "privateer.py" in project.list_files()
    assert not any(f.startswith("private/") for f in project.list_files())
    with pytest.raises(SecretPath):
        project.resolve_path("private/deploy/token.txt")
    assert index.is_secret(str(workspace / "private" / "deploy" / "token.txt"))
    index.close()


def test_bad_inputs_are_skipped_with_a_log_line_never_a_crash(workspace, tmp_path, caplog):
    write(workspace, "bad_utf8.py", b"def ok():\n    pass\n# \xff\xfe broken\n")
    write(workspace, "nul.py", b"def x():\n\x00\x00\n")
    write(workspace, "bundle.min2.js", "var a=1;" * (10 * 1024 * 1024 // 8))  # 10 MB on one line
    write(workspace, "long_line.js", "var a=1;" * 20_000)  # under the size limit, but minified
    (workspace / "loop").symlink_to(workspace, target_is_directory=True)
    (workspace / "outside.py").symlink_to(tmp_path / "elsewhere.py")
    write(tmp_path, "elsewhere.py", "def outside():\n    pass\n")
    locked = workspace / "locked"
    locked.mkdir()
    write(workspace, "locked/hidden.py", "def hidden():\n    pass\n")
    locked.chmod(0)
    try:
        index, project = open_index(workspace, tmp_path / "cache")
        with caplog.at_level("INFO", logger="aicockpit"):
            stats = project.build()
    finally:
        locked.chmod(0o755)
    files = project.list_files()
    assert {"bad_utf8.py", "nul.py", "bundle.min2.js", "long_line.js", "outside.py"}.isdisjoint(files)
    assert not any(f.startswith("loop/") for f in files)
    assert stats.skipped_reasons.get("invalid") == 1 and stats.skipped_reasons.get("binary") == 1
    assert stats.skipped_reasons.get("minified") == 1
    logged = caplog.text
    assert "bad_utf8.py" in logged and "nul.py" in logged and "long_line.js" in logged
    assert project.find_definitions("solve")  # the good files are all there
    # A file deleted between the event and the read.
    project.refresh([workspace / "vanished.py"])
    gone = write(workspace, "brief.py", "def brief():\n    pass\n")
    gone.unlink()
    project.refresh([gone])
    assert "brief.py" not in project.list_files()
    index.close()


def test_a_restart_rereads_only_changed_files(workspace, tmp_path):
    cache = tmp_path / "cache"
    index, project = open_index(workspace, cache)
    first = project.build()
    assert first.parsed == 3
    index.close()

    index, project = open_index(workspace, cache)
    warm = project.build()
    assert warm.parsed == 0 and warm.reused == 3
    assert project.find_definitions("solve")[0].doc == "Solve it."
    index.close()

    write(workspace, "pkg/core.py", "def solve(x, y):\n    return x\n")
    touched = workspace / "main.py"
    os.utime(touched, ns=(time.time_ns(), time.time_ns() + 10**9))  # newer mtime, same content
    index, project = open_index(workspace, cache)
    third = project.build()
    assert third.parsed == 1
    assert project.find_definitions("solve")[0].signature == "def solve(x, y):"
    index.close()


def test_an_index_cache_from_the_old_location_is_moved_and_used(workspace, tmp_path):
    cache = tmp_path / "cache"
    index, project = open_index(workspace, cache)
    project.build()
    index.close()
    new = project.store.path
    assert new.parent == workspace_cache_dir(workspace, str(cache))  # beside the chat sessions
    old = cache / "index" / f"{new.parent.name}.sqlite"  # where it was before issue 24
    old.parent.mkdir()
    new.rename(old)
    index, project = open_index(workspace, cache)
    warm = project.build()
    assert warm.parsed == 0 and warm.reused == 3 and new.exists() and not old.exists()
    index.close()


def test_paths_outside_the_workspace_are_refused(workspace, tmp_path):
    write(tmp_path, "secret_notes.py", "x = 1\n")
    (workspace / "escape").symlink_to(tmp_path)
    index, project = open_index(workspace, tmp_path / "cache")
    for rel in (
        "../secret_notes.py",
        "/etc/passwd",
        "pkg/../../secret_notes.py",
        "escape/secret_notes.py",
        "",
    ):
        with pytest.raises(PathOutsideWorkspace):
            project.resolve_path(rel)
    assert project.resolve_path("pkg/core.py") == (workspace / "pkg" / "core.py").resolve()
    assert index.resolve_path("main.py").name == "main.py"
    index.close()


def test_query_api_finds_definitions_files_and_fuzzy_paths():
    index = WorkspaceIndex()
    index.add_folder(FIXTURES / "python", persist=False).build()
    found = index.find_definitions("loyalty_discount")
    assert [(path, d.kind) for path, d in found] == [("shop/pricing.py", "function")]
    assert found[0][1].signature.startswith("def loyalty_discount(customer: Customer, amount: int) -> int")
    assert found[0][1].doc.startswith("Return the discount in cents")
    kinds = {
        d.name: d.kind for _, d in index.find_definitions("subtotal") + index.find_definitions("Product")
    }
    assert kinds == {"subtotal": "method", "Product": "class"}
    assert "shop/models.py" in index.list_files()
    assert index.fuzzy_find("chkout")[0] == "shop/checkout.py"
    assert index.fuzzy_find("models")[0] == "shop/models.py"
    index.close()


@pytest.mark.parametrize(
    ("workspace", "source", "imported"),
    [
        ("python", "app.py", {"shop/checkout.py", "shop/models.py"}),
        ("js", "checkout.js", {"cart.js", "lib/format.js"}),
        ("ts", "src/canvas.ts", {"src/geometry/shapes.ts", "src/geometry/vector.ts"}),
        ("go", "cmd/stockctl/main.go", {"inventory/stock.go", "inventory/report.go"}),
        ("rust", "src/lib.rs", {"src/account.rs", "src/money.rs"}),
        ("java", "src/main/java/com/acme/billing/App.java", {"src/main/java/com/acme/billing/Invoice.java"}),
        ("c", "src/main.c", {"src/ring.h"}),
    ],
)
def test_imports_resolve_to_workspace_files(workspace, source, imported):
    index = WorkspaceIndex()
    project = index.add_folder(FIXTURES / workspace, persist=False)
    project.build()
    assert imported <= set(project.imports_of(source))
    index.close()


def test_a_burst_of_events_is_coalesced_into_one_batch():
    batches: list[list[str]] = []
    coalescer = ChangeCoalescer(batches.append, debounce_s=0.2)
    try:
        for i in range(2000):
            coalescer.add([f"/w/f{i % 1500}.py"])
        deadline = time.monotonic() + 5
        while not batches and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        coalescer.stop()
    assert len(batches) == 1 and len(batches[0]) == 1500


def test_closing_stops_a_running_crawl_and_a_restart_completes_it(workspace, tmp_path):
    for i in range(300):
        write(workspace, f"many/m{i}.py", f"def g{i}():\n    pass\n")
    index, project = open_index(workspace, tmp_path / "cache")
    calls = []

    def progress(done, total):
        calls.append(done)
        if done >= 100:
            project.close()  # what shutdown does while the crawl thread runs

    project.build(progress)
    assert calls[-1] < 303  # it stopped early
    index, project = open_index(workspace, tmp_path / "cache")
    stats = project.build()
    assert stats.files == 303 and len(project.find_definitions("g299")) == 1
    index.close()


def test_the_crawl_takes_the_folders_of_open_documents_first():
    from types import SimpleNamespace

    from aicockpit.context.index import CrawlOrder

    walked = [SimpleNamespace(rel=rel) for rel in ("a/x.py", "a/y.py", "b/c/p.py", "b/q.py", "d/z.py")]
    order = CrawlOrder(walked)
    open_docs: dict[str, int] = {}
    first, _ = order.next(open_docs)
    assert first.rel == "a/x.py"  # walk order while nothing is open
    open_docs["b/c/new.py"] = 1  # the user opens a file while the crawl runs
    taken = [order.next(open_docs) for _ in range(4)]
    assert [item.rel for item, _ in taken] == ["b/c/p.py", "b/q.py", "a/y.py", "d/z.py"]
    assert [done for _, done in taken] == [False, True, False, False]  # committed after the hot run


def test_the_loop_side_touches_no_disk_the_database_opens_in_the_crawl(workspace, tmp_path):
    index, project = open_index(workspace, tmp_path / "cache")
    assert project.store is None and not list((tmp_path / "cache").rglob("*.sqlite"))  # nothing opened yet
    project.build()
    assert project.store is not None and project.store.path.exists()
    core = workspace / "pkg" / "core.py"
    # The editor opens the file and types a new function: its text wins over the disk.
    assert project.update_open("pkg/core.py", 2, core.read_text() + "\ndef typed():\n    pass\n")
    assert "typed" in names(project)
    later: list[list[str]] = []
    index.refresh_later = later.append
    index.close_open(str(core))  # didClose: only queued, for the file-event thread
    assert later == [[str(core)]] and "typed" in names(project)
    index.refresh(later[0])  # what that thread does: the disk is the truth again
    assert "typed" not in names(project) and "solve" in names(project)
    removed = index.remove_folder(workspace)
    assert removed == [project] and not index.folders and not project.closed  # closed by the caller
    project.close()
