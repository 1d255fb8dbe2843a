"""The context engine over LSP: a folder is indexed, disk edits are watched, completions see them.

The session server starts without a workspace; each test adds its own folder with
``workspace/didChangeWorkspaceFolders`` (and removes it), so no second engine is needed.
The snippets a completion used are in ``aicockpit/stats`` ``last_request.context``.
"""

from __future__ import annotations

from lsprotocol import types

from tests.e2e.helpers import change, inline_params
from tests.support import plain, stats, wait_until

SHAPES = 'def area(width, height):\n    """Area of a rectangle."""\n    return width * height\n'
MAIN = (
    "from geo.shapes import area\n"
    "from geo.solids import cuboid_volume\n\n\n"
    "def report(w, h, d):\n"
    "    print(area(w, h))\n"
    "    volume = cuboid_volume(w, h, d)\n"
    "    return \n"
)
LAST_ROW, LAST_COL = 7, len("    return ")


def folders_changed(client, folder, added: bool) -> None:
    item = types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[item] if added else [], removed=[] if added else [item]
            )
        )
    )


async def index_state(client, root) -> dict:
    status = plain(await client.protocol.send_request_async("aicockpit/index", None))
    return next((f for f in status["folders"] if f["root"] == str(root.resolve())), {})


async def completion_context(client, uri: str) -> list[dict]:
    """The context a completion at the end would get (aicockpit/context builds the same prompt,
    where a completion could be answered from the typing-through cache without one)."""
    params = {"textDocument": {"uri": uri}, "position": {"line": LAST_ROW, "character": LAST_COL}}
    result = plain(await client.protocol.send_request_async("aicockpit/context", params))
    return result["snippets"]


async def test_a_definition_written_on_disk_reaches_the_next_completions_context(ready, tmp_path):
    root = tmp_path / "proj"
    (root / "geo").mkdir(parents=True)
    (root / "geo" / "__init__.py").write_text("")
    (root / "geo" / "shapes.py").write_text(SHAPES)
    (root / ".env").write_text("API_KEY=do-not-send\n")
    folders_changed(ready, root, added=True)
    try:
        state = await wait_until(lambda: _ready_with(ready, root, files=2), 20, "proj indexed, 2 files")
        assert state["definitions"] >= 1
        uri = (root / "main.py").as_uri()  # unsaved: the editor's text only
        ready.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=MAIN)
            )
        )
        context = await completion_context(ready, uri)
        # The session's server has a workspace of its own too: paths may carry the folder's name.
        reasons = {(s["path"].removeprefix(f"{root.name}/"), s["reason"]) for s in context}
        assert ("geo/shapes.py", "definition of area") in reasons
        assert not any("cuboid_volume" in s["reason"] for s in context)

        # A new file on disk (watched with watchdog: this client has no file watcher).
        (root / "geo" / "solids.py").write_text(
            "def cuboid_volume(width, height, depth):\n    return width * height * depth\n"
        )

        async def sees_new_definition():
            snippets = await completion_context(ready, uri)
            return any(s["reason"] == "definition of cuboid_volume" for s in snippets) and snippets

        context = await wait_until(sees_new_definition, 20, "cuboid_volume in the context")
        found = {(s["path"].removeprefix(f"{root.name}/"), s["reason"]) for s in context}
        assert ("geo/solids.py", "definition of cuboid_volume") in found

        # An edit to an existing file: the prompt shows the new signature.
        (root / "geo" / "shapes.py").write_text(SHAPES.replace("height)", 'height, unit="m2")'))

        async def prompt_has_new_signature():
            result = plain(
                await ready.protocol.send_request_async(
                    "aicockpit/context",
                    {"textDocument": {"uri": uri}, "position": {"line": LAST_ROW, "character": LAST_COL}},
                )
            )
            return 'unit="m2"' in result["prompt"] and result

        result = await wait_until(prompt_has_new_signature, 20, "the new signature in the prompt")
        assert "do-not-send" not in result["prompt"]
        messages = [getattr(r, "message", "") or "" for rs in ready.progress_reports.values() for r in rs]
        assert any(m.startswith("indexing proj") for m in messages), messages
        assert any(m.startswith("indexed ") and "files" in m for m in messages), messages

        # Keystrokes with repository context in the prompt: vLLM reuses every block before the cursor.
        for version, ch in ((2, "v"), (3, "o")):
            column = LAST_COL + version - 2
            change(ready, uri, version, (LAST_ROW, column), (LAST_ROW, column), ch)
            await ready.text_document_inline_completion_async(inline_params(uri, LAST_ROW, column + 1))
        last = (await stats(ready))["last_request"]
        assert last["context"] and last["prompt_tokens"] > 64
        assert last["cached_tokens"] >= last["prompt_tokens"] - 3 * 32, last
    finally:
        folders_changed(ready, root, added=False)


async def _ready_with(client, root, files: int) -> dict | None:
    state = await index_state(client, root)
    return state if state.get("ready") and state.get("files", 0) >= files else None
