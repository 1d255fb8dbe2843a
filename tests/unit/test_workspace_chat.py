import pytest

from aicockpit.cache_dirs import cache_root, workspace_cache_dir
from aicockpit.chat.store import ChatStore, UnknownSession
from aicockpit.config import IndexConfig
from aicockpit.context.files import WorkspaceFiles
from aicockpit.context.mentions import ScanningSymbols, mentions, resolve_mentions
from aicockpit.context.store import database_path
from aicockpit.context.workspace import RefusedPath


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "util.py").write_text("def helper(x):\n    return x * 2\n\nVALUE = 1\n")
    (root / ".env").write_text("SECRET=1")
    (root / "server.key").write_text("key")
    (root / "deploy").mkdir()
    (root / "deploy" / "secrets.yaml").write_text("token: 1")
    (root / "out").symlink_to(tmp_path)
    (tmp_path / "outside.txt").write_text("private")
    (root / ".gitignore").write_text("generated/\n")
    (root / "generated").mkdir()
    (root / "generated" / "big.py").write_text("X = 1\n")
    return WorkspaceFiles(root)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../outside.txt", "leaves the workspace"),
        ("/etc/passwd", "absolute"),
        ("out/outside.txt", "symlink"),
        ("pkg/../../outside.txt", "leaves the workspace"),
        (".env", "secrets"),
        ("server.key", "secrets"),
        ("deploy/secrets.yaml", "secrets"),  # a pattern of the configured list (index.secrets)
        ("", "not a file name"),
    ],
)
def test_paths_leaving_the_workspace_or_naming_secrets_are_refused(workspace, name, reason):
    with pytest.raises(RefusedPath, match=reason):
        workspace.resolve(name)


def test_the_configured_secrets_list_is_read_at_each_call(workspace):
    settings = IndexConfig()
    files = WorkspaceFiles(workspace.root, lambda: settings)
    assert files.read("pkg/util.py").relative == "pkg/util.py"
    settings = IndexConfig(secrets=["util.py"])  # the user changed the setting: it holds at once
    with pytest.raises(RefusedPath, match="secrets"):
        files.read("pkg/util.py")
    listed = list(files.files())
    assert "pkg/util.py" not in listed and ".env" in listed  # the listing follows the setting too


def test_listing_skips_secrets_and_ignored_files_and_finds_fuzzily(workspace):
    assert list(workspace.files()) == [".gitignore", "pkg/util.py"]
    assert workspace.find("util") == ["pkg/util.py"]
    assert workspace.find("pkutl") == ["pkg/util.py"]


def test_mentions_resolve_files_and_symbols_and_explain_refusals(workspace):
    assert mentions("see @pkg/util.py, @helper and mail a@b.c") == ["pkg/util.py", "helper"]
    found = resolve_mentions(
        "@pkg/util.py @helper @../outside.txt @nothing_here", workspace, ScanningSymbols(workspace)
    )
    assert [s.reason for s in found.snippets] == ["mentioned", "defines helper"]
    assert "return x * 2" in found.snippets[1].text
    assert any("refused" in n and "outside.txt" in n for n in found.notices)
    assert any("nothing_here" in n for n in found.notices)


def test_cache_dir_is_per_workspace_and_outside_it(workspace, tmp_path):
    folder = workspace_cache_dir(workspace.root, str(tmp_path / "cache"))
    assert folder.parent == tmp_path / "cache" and not folder.is_relative_to(workspace.root)
    assert folder != workspace_cache_dir(tmp_path, str(tmp_path / "cache"))
    assert workspace_cache_dir(None, str(tmp_path / "cache")) == tmp_path / "cache" / "no-workspace"


def test_one_cache_root_for_index_chat_and_usage(monkeypatch, tmp_path, workspace):
    monkeypatch.delenv("AICOCKPIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "aicockpit"
    monkeypatch.setenv("AICOCKPIT_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    assert workspace_cache_dir(workspace.root).parent == tmp_path / "mine"
    assert database_path(None, workspace.root).is_relative_to(tmp_path / "mine")


async def test_store_sessions_fork_and_delete(tmp_path):
    store = ChatStore(tmp_path / "chat.sqlite")
    session = await store.create("first question")
    await store.add(session, "user", "hi", prompt_tokens=1)
    await store.add(session, "assistant", "hello", prompt_tokens=20, completion_tokens=5)
    await store.add(session, "user", "more")
    forked = await store.fork(session, 1)
    assert [m.content for m in await store.history(forked)] == ["hi", "hello"]
    assert (await store.history(forked))[1].completion_tokens == 5
    await store.delete(session)
    with pytest.raises(UnknownSession):
        await store.history(session)
    store.close(wait=True)
    reopened = ChatStore(tmp_path / "chat.sqlite")
    assert [s["id"] for s in await reopened.sessions()] == [forked]
    reopened.close(wait=True)


async def test_store_work_runs_in_its_own_thread_never_the_loop(tmp_path):
    import threading

    store = ChatStore(tmp_path / "chat.sqlite")
    seen = await store._db.run(lambda db: threading.current_thread())
    assert seen is not threading.current_thread() and seen.name.startswith("aicockpit-chat")
    store.close(wait=True)
