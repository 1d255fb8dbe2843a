"""Next-edit suggestions over LSP, checked where they leave the server.

A real ``aicockpit serve`` whose roles point at a recording OpenAI-compatible
server: after a rename, the prompt the model receives holds the edit (old and new
text), the editable region with the cursor marker and the format's markers in
order; a canned answer comes back as the smallest edits, as an inline completion
item and as a code action; an answer to text that changed meanwhile is never
returned. tests/e2e/test_real_model.py runs the round trip on a real model.
"""

from __future__ import annotations

import asyncio
import shutil

import pytest
from lsprotocol import types

from aicockpit.config import ROLES
from aicockpit.prompt.next_edit import CURSOR, REGION_END, REGION_START
from tests.e2e.editor import Editor
from tests.e2e.helpers import request, start_server
from tests.fake_openai import FakeOpenAI
from tests.support import RUN_DIR, plain, stats_where, tiny_model, wait_until

SOURCE = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n"


def options(url: str) -> dict:
    recorder = {"backend": "openai", "url": url, "model": "m", "tokenizer": str(tiny_model())}
    return {
        "profiles": {"recorder": recorder},
        "roles": {role: {"profile": "recorder"} for role in ROLES},
        # The model's path: the renames here would otherwise be found without it.
        "next_edit": {"debounce_ms": 0, "structural": False},
    }


@pytest.fixture(scope="module")
async def recorder():
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
async def server(recorder):
    root = RUN_DIR / "next-edit" / "geometry"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / ".git").mkdir()
    client = await start_server(root, options(recorder.url), profile="recorder")
    yield client, root
    await client.shutdown_session()
    await client.stop()
    shutil.rmtree(root.parent, ignore_errors=True)


def renamed(client, recorder, root, name: str) -> tuple[Editor, str]:
    """A document where the user renamed the parameter ``width`` to ``w`` by hand, and a model
    that answers with its next use renamed too."""
    editor = Editor(client)
    uri = (root / name).as_uri()
    editor.open(uri, SOURCE)
    rename_width(editor, uri)
    answer = editor.texts[uri].replace("return width", "return w")
    recorder.pieces = (f"{REGION_START}\n{answer}{REGION_END}",)
    return editor, uri


def rename_width(editor: Editor, uri: str) -> None:
    """The user renames the parameter ``width`` to ``w``, one keystroke at a time."""
    at = len("def area(w")
    for _ in range(4):
        start = types.Position(line=0, character=at)
        end = types.Position(line=0, character=at + 1)
        editor._change(uri, [types.TextEdit(range=types.Range(start=start, end=end), new_text="")])


async def next_edit(client, uri: str, line: int, character: int) -> dict:
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    return await request(client, "aicockpit/nextEdit", params)


async def test_after_a_rename_the_model_sees_the_edit_and_its_answer_becomes_small_edits(server, recorder):
    client, root = server
    editor, uri = renamed(client, recorder, root, "geo.py")
    before = len(recorder.seen)
    result = await next_edit(client, uri, 1, 4)
    (seen,) = [s for s in recorder.seen[before:] if s.path.endswith("/chat/completions")]
    prompt = seen.body["messages"][-1]["content"]
    parts = [
        "-def area(width, height):",
        "+def area(w, height):",
        f"```geo.py\n<|start_of_file|>\n{REGION_START}\ndef area(w, height):\n    {CURSOR}return width",
        REGION_END,
    ]
    positions = [prompt.find(part) for part in parts]
    assert -1 not in positions and positions == sorted(positions), prompt
    assert REGION_END in seen.body["stop"]
    # The answer differs from the region by "idth" on line 2: one edit, just that.
    assert result["id"] and result["version"] == editor.versions[uri]
    assert result["edits"] == [
        {"range": {"start": {"line": 1, "character": 12}, "end": {"line": 1, "character": 16}}, "newText": ""}
    ]

    # The same suggestion for clients with only inline completion ...
    inline = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=4),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    ranged = [item for item in inline.items if item.range.end.character == 16]
    assert [(i.insert_text, i.range.start.character) for i in ranged] == [("return w", 4)]
    # ... and for clients with only code actions (Helix): a versioned edit, never applied to other text.
    where = {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}}
    actions = await request(
        client,
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": where, "context": {"diagnostics": []}},
    )
    (apply,) = [a for a in actions if a["title"] == "Apply suggested edit"]
    assert apply["tags"] == [1]  # LSP 3.18's CodeActionTag.LLMGenerated: a model wrote it
    (change,) = apply["edit"]["documentChanges"]
    assert change["textDocument"]["version"] == editor.versions[uri] and change["edits"] == result["edits"]
    # Taking it is counted.
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=apply["command"]["command"], arguments=apply["command"]["arguments"]
        )
    )
    stats = plain(await request(client, "aicockpit/stats", None))["next_edit"]
    assert stats["accepted"] == 1 and stats["suggested"] >= 1


async def test_a_suggestion_the_user_typed_over_is_counted_dismissed(server, recorder):
    client, root = server
    editor, uri = renamed(client, recorder, root, "typed_over.py")
    result = await next_edit(client, uri, 1, 4)
    assert result["edits"]
    # The user types on: the editor takes the suggestion down and says so after the change,
    # when the editor may already have asked for code actions (there is nothing to apply now).
    editor.type(uri, 4, 0, "# ")
    here = {"start": {"line": 4, "character": 2}, "end": {"line": 4, "character": 2}}
    actions = await request(
        client,
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": here, "context": {"diagnostics": []}},
    )
    assert "Apply suggested edit" not in [a["title"] for a in actions]
    before = plain(await request(client, "aicockpit/stats", None))["next_edit"].get("rejected", 0)
    client.protocol.notify("aicockpit/nextEdit/feedback", {"id": result["id"], "accepted": False})
    rejected = stats_where(client, lambda s: s["next_edit"].get("rejected", 0) > before)
    await wait_until(rejected, 30, "the rejection counted")


async def test_a_suggestion_for_text_that_changed_meanwhile_is_never_returned(server, recorder):
    client, root = server
    editor, uri = renamed(client, recorder, root, "stale.py")
    recorder.mode, recorder.delay = "slow_first", 1.0
    try:
        pending = asyncio.ensure_future(next_edit(client, uri, 1, 4))
        await reached(recorder, len(recorder.seen))
        editor.type(uri, 4, 0, "# ")  # the user goes on typing while the model works
        result = await pending
    finally:
        recorder.mode = "ok"
    assert result["edits"] == [] and result["id"] is None
    stats = plain(await request(client, "aicockpit/stats", None))["next_edit"]
    assert stats["stale"] >= 1
    # The model's answer for the text as it is now (the old one would take the "# " away).
    answer = editor.texts[uri].replace("return width", "return w")
    recorder.pieces = (f"{REGION_START}\n{answer}{REGION_END}",)
    # A newer request supersedes an older one: the older is answered at once, empty.
    recorder.mode = "slow_first"
    try:
        first = asyncio.ensure_future(next_edit(client, uri, 1, 4))
        await reached(recorder, len(recorder.seen))
        second = await next_edit(client, uri, 1, 4)
        assert (await first)["edits"] == [] and second["edits"]
    finally:
        recorder.mode = "ok"


async def reached(recorder: FakeOpenAI, seen: int) -> None:
    """Wait until a request beyond the first ``seen`` has reached the model."""
    await wait_until(lambda: len(recorder.seen) > seen, 30, "a request at the model", 0.01)


async def test_a_model_suggestion_that_undoes_the_users_last_edit_is_never_shown(server, recorder):
    client, root = server
    editor, uri = renamed(client, recorder, root, "undoing.py")
    # The model puts the old name back where the user just renamed it (and renames the use).
    answer = SOURCE.replace("return width", "return w")
    recorder.pieces = (f"{REGION_START}\n{answer}{REGION_END}",)
    before = plain(await request(client, "aicockpit/stats", None))["next_edit"]["decisions"]
    result = await next_edit(client, uri, 1, 4)
    assert result["edits"] == [] and result["id"] is None
    after = plain(await request(client, "aicockpit/stats", None))["next_edit"]["decisions"]
    assert after["model_undoes_last_edit"] == before.get("model_undoes_last_edit", 0) + 1
