import pytest

from aicockpit.chat.store import ChatStore, UnknownSession
from aicockpit.context.mentions import ScanningSymbols, mentions, resolve_mentions
from aicockpit.context.workspace import OutsideWorkspace, Workspace, cache_dir_for


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "util.py").write_text("def helper(x):\n    return x * 2\n\nVALUE = 1\n")
    (root / ".env").write_text("SECRET=1")
    (root / "server.key").write_text("key")
    (root / "out").symlink_to(tmp_path)
    (tmp_path / "outside.txt").write_text("private")
    return Workspace(root)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../outside.txt", "leaves the workspace"),
        ("/etc/passwd", "absolute"),
        ("out/outside.txt", "outside the workspace"),
        (".env", "secrets"),
        ("server.key", "secrets"),
    ],
)
def test_paths_leaving_the_workspace_or_naming_secrets_are_refused(workspace, name, reason):
    with pytest.raises(OutsideWorkspace, match=reason):
        workspace.resolve(name)


def test_listing_skips_secrets_and_finds_fuzzily(workspace):
    assert list(workspace.files()) == ["pkg/util.py"]
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
    folder = cache_dir_for(workspace.root, str(tmp_path / "cache"))
    assert folder.parent == tmp_path / "cache" and not folder.is_relative_to(workspace.root)
    assert folder != cache_dir_for(tmp_path, str(tmp_path / "cache"))


def test_store_sessions_fork_and_delete(tmp_path):
    store = ChatStore(tmp_path / "chat.sqlite")
    session = store.create("first question")
    store.add(session, "user", "hi", prompt_tokens=1)
    store.add(session, "assistant", "hello", prompt_tokens=20, completion_tokens=5)
    store.add(session, "user", "more")
    forked = store.fork(session, 1)
    assert [m.content for m in store.history(forked)] == ["hi", "hello"]
    assert store.history(forked)[1].completion_tokens == 5
    store.delete(session)
    with pytest.raises(UnknownSession):
        store.history(session)
    reopened = ChatStore(tmp_path / "chat.sqlite")
    assert [s["id"] for s in reopened.sessions()] == [forked]
