"""Structural next edits over LSP: what an editor gets after a rename typed by keystrokes.

A real ``aicockpit serve`` whose roles point at a scripted model that never suggests
anything (so every edit seen here came from the structural finders, and no engine
loads). The user renames a parameter of a real function (packaging's
``_parse_letter_version``, from the installed package) one key at a time, as an editor
sends it; the test asks for the next edit, applies it as an editor does, and repeats
until nothing comes: the file then equals the fully renamed one, and nothing else
changed. The same through GitHub Copilot's ``textDocument/copilotInlineEdit``, with the
params copilot-lsp and sidekick.nvim send. Then the cases where a wrong suggestion would
be easy (shadowing, strings, comments, another object's attribute, an undo halfway, a
document changed under the request) and bad input (an invalid name, a collision, a file
that does not parse, 50,000 lines, hundreds of edits in a burst).
"""

from __future__ import annotations

import ast
import asyncio
import io
import shutil
import tokenize
from pathlib import Path

import packaging.version
import pytest
from lsprotocol import types

from aicockpit.config import ROLES
from aicockpit.context.positions import LineIndex, Position
from tests.e2e import next_edit_model
from tests.e2e.helpers import request, start_server
from tests.fake_openai import FakeOpenAI
from tests.support import RUN_DIR

FUNCTION, PARAMETER, NEW_NAME = "_parse_letter_version", "letter", "kind"
MAX_STEPS = 60


def real_function() -> tuple[str, str]:
    """The source of a real function with a parameter used several times, and it renamed by
    Python's own tokenizer (names only: comments, strings and other names stay)."""
    module = Path(packaging.version.__file__).read_text(encoding="utf-8")
    tree = ast.parse(module)
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == FUNCTION]
    source = ast.get_source_segment(module, node) + "\n"
    lines = LineIndex(source)
    names = [
        lines.offset(Position(tok.start[0] - 1, tok.start[1]))
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.NAME and tok.string == PARAMETER
    ]
    renamed = source
    for at in reversed(names):
        renamed = renamed[:at] + NEW_NAME + renamed[at + len(PARAMETER) :]
    assert len(names) >= 5 and f"given a {PARAMETER}" in source  # a comment holds the name too
    return source, renamed


class KeyboardEditor:
    """Sends what an editor sends: one ranged didChange per key, versions counting up."""

    def __init__(self, client, uri: str, text: str, language: str = "python") -> None:
        self.client, self.uri, self.text, self.version = client, uri, text, 1
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
            )
        )

    def replace(self, start: int, end: int, new: str) -> None:
        lines = LineIndex(self.text)
        a, b = lines.position(start), lines.position(end)
        self.text = self.text[:start] + new + self.text[end:]
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=a.line, character=a.character),
                            end=types.Position(line=b.line, character=b.character),
                        ),
                        text=new,
                    )
                ],
            )
        )

    def retype(self, at: int, old: str, new: str) -> int:
        """Backspace over ``old`` (which ends at ``at + len(old)``), type ``new``; the cursor after."""
        for n in range(len(old), 0, -1):
            self.replace(at + n - 1, at + n, "")
        for n, ch in enumerate(new):
            self.replace(at + n, at + n, ch)
        return at + len(new)

    def position(self, offset: int) -> dict[str, int]:
        at = LineIndex(self.text).position(offset)
        return {"line": at.line, "character": at.character}

    def apply(self, edits: list[dict]) -> int:
        """Apply LSP text edits (last first, as editors do); the cursor at the end of the last one."""
        lines = LineIndex(self.text)
        spans = []
        for edit in edits:
            start = lines.offset(_pos(edit["range"]["start"]))
            end = lines.offset(_pos(edit["range"]["end"]))
            spans.append((start, end, edit.get("newText", edit.get("text"))))
        cursor = 0
        for start, end, new in sorted(spans, reverse=True):
            self.replace(start, end, new)
        start, _, new = max(spans)
        cursor = start + len(new)
        return cursor


def _pos(position: dict) -> Position:
    return Position(position["line"], position["character"])


@pytest.fixture(scope="module")
async def silent_model():
    async with FakeOpenAI(answer=next_edit_model.UNCHANGED) as model:
        yield model


@pytest.fixture(scope="module")
async def server(silent_model):
    root = RUN_DIR / "structural-next-edit" / "project"
    shutil.rmtree(root.parent, ignore_errors=True)
    root.mkdir(parents=True)
    (root / ".git").mkdir()
    profile = next_edit_model.PROFILE
    options = {
        "profiles": {profile: next_edit_model.profile(silent_model.url)},
        "roles": {role: {"profile": profile} for role in ROLES},
        "next_edit": {"debounce_ms": 0},
    }
    client = await start_server(root, options, profile=profile)
    yield client, root
    await client.shutdown_session()
    await client.stop()
    shutil.rmtree(root.parent, ignore_errors=True)


def model_requests(model: FakeOpenAI) -> int:
    return sum(s.path.endswith("/completions") for s in model.seen)


async def next_edit(editor: KeyboardEditor, cursor: int) -> dict:
    params = {"textDocument": {"uri": editor.uri}, "position": editor.position(cursor)}
    return await request(editor.client, "aicockpit/nextEdit", params)


async def copilot_inline_edit(editor: KeyboardEditor, cursor: int, version: int | None = None) -> dict:
    # What copilot-lsp and sidekick.nvim send: position params, the buffer's version in
    # textDocument, and (sidekick) an inline-completion-like trigger context.
    params = {
        "textDocument": {"uri": editor.uri, "version": editor.version if version is None else version},
        "position": editor.position(cursor),
        "context": {"triggerKind": 2},
    }
    return await request(editor.client, "textDocument/copilotInlineEdit", params)


async def accepted(client, command: dict) -> None:
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command["command"], arguments=command["arguments"])
    )


async def stats(client) -> dict:
    return (await request(client, "aicockpit/stats", None))["next_edit"]


async def test_a_parameter_renamed_by_keystrokes_is_renamed_everywhere_by_taking_each_next_edit(
    server, silent_model
):
    client, root = server
    source, expected = real_function()
    editor = KeyboardEditor(client, (root / "version_letter.py").as_uri(), source)
    before = await stats(client)
    cursor = editor.retype(source.index(f"{PARAMETER}:"), PARAMETER, NEW_NAME)
    taken = 0
    for _ in range(MAX_STEPS):
        result = await next_edit(editor, cursor)
        if not result["edits"]:
            break
        assert result["source"] == "rename" and result["version"] == editor.version, result
        assert result["label"].startswith(f"rename {PARAMETER} → {NEW_NAME}")
        await accepted(client, {"command": "aicockpit.nextEditAccepted", "arguments": [result["id"]]})
        cursor = editor.apply(result["edits"])
        taken += 1
    assert editor.text == expected
    assert taken == expected.count(NEW_NAME) - 1  # every use; the binding the user typed
    after = await stats(client)
    assert (
        after["by_source"]["rename"]["accepted"] - before["by_source"]["rename"].get("accepted", 0) == taken
    )
    assert after["decisions"]["structural_found"] - before["decisions"].get("structural_found", 0) == taken


async def test_the_same_rename_through_copilot_inline_edit(server, silent_model):
    client, root = server
    source, expected = real_function()
    editor = KeyboardEditor(client, (root / "version_copilot.py").as_uri(), source)
    cursor = editor.retype(source.index(f"{PARAMETER}:"), PARAMETER, NEW_NAME)
    asked_model = model_requests(silent_model)
    for _ in range(MAX_STEPS):
        result = await copilot_inline_edit(editor, cursor)
        if not result["edits"]:
            break
        (edit,) = result["edits"]  # copilot-lsp shows only the first: always one
        assert set(edit) == {"text", "range", "textDocument", "command"}
        assert edit["textDocument"] == {"uri": editor.uri, "version": editor.version}
        assert edit["command"]["command"] == "aicockpit.nextEditAccepted"
        # copilot-lsp tells the server it shows it; sidekick runs the command after applying.
        client.protocol.notify("textDocument/didShowInlineEdit", {"item": {"command": edit["command"]}})
        cursor = editor.apply([edit])
        await accepted(client, edit["command"])
    assert editor.text == expected
    # The structural edits needed no model: it was asked once, when none was left.
    assert model_requests(silent_model) - asked_model == 1
    # A version the document has left gets nothing, whatever there would be to suggest.
    editor.retype(editor.text.index(NEW_NAME), NEW_NAME, "k")
    assert (await copilot_inline_edit(editor, 0, version=editor.version - 1))["edits"] == []
    assert (await copilot_inline_edit(editor, 0))["edits"]
    assert (await stats(client))["by_source"]["rename"]["shown"] >= expected.count(NEW_NAME) - 1


async def rename_all(editor: KeyboardEditor, cursor: int) -> list[dict]:
    """Take every next edit until none comes; the answers taken."""
    taken = []
    for _ in range(MAX_STEPS):
        result = await next_edit(editor, cursor)
        if not result["edits"]:
            return taken
        taken.append(result)
        cursor = editor.apply(result["edits"])
    raise AssertionError("the suggestions did not end")


TRAPS = '''\
import os


def scale(value, factor):
    """Scale value by factor; a value of None stays None."""
    # value is checked first
    if value is None:
        return None
    other.value = factor
    label = f"value={value}"
    pairs = [(value, v) for v in range(3)]

    def inner(value):
        return value * 2

    return value * factor, inner(value), os.path.join("value", label), pairs


def unrelated(value):
    return value
'''


async def test_shadowing_strings_comments_and_other_objects_are_never_touched(server):
    client, root = server
    editor = KeyboardEditor(client, (root / "traps.py").as_uri(), TRAPS)
    cursor = editor.retype(TRAPS.index("value"), "value", "amount")
    await rename_all(editor, cursor)
    assert editor.text == TRAPS.replace("def scale(value", "def scale(amount").replace(
        "    if value is None", "    if amount is None"
    ).replace('f"value={value}"', 'f"value={amount}"').replace("[(value, v)", "[(amount, v)").replace(
        "return value * factor, inner(value)", "return amount * factor, inner(amount)"
    )


async def test_an_undo_halfway_leaves_no_suggestion_for_the_abandoned_rename(server):
    client, root = server
    editor = KeyboardEditor(client, (root / "undo.py").as_uri(), TRAPS)
    at = TRAPS.index("value")
    cursor = editor.retype(at, "value", "amount")
    first = await next_edit(editor, cursor)
    editor.apply(first["edits"])  # one use taken
    editor.retype(at, "amount", "value")  # then the user puts the parameter's name back
    result = await next_edit(editor, at)
    # Nothing that finishes the abandoned rename (the one renamed use is the user's to undo).
    assert all("amount" not in e["newText"] for e in result["edits"]), result


async def test_an_answer_is_for_the_version_the_document_has_when_it_is_computed(server):
    client, root = server
    editor = KeyboardEditor(client, (root / "moving.py").as_uri(), TRAPS)
    cursor = editor.retype(TRAPS.index("value"), "value", "amount")
    pending = asyncio.ensure_future(next_edit(editor, cursor))
    editor.replace(len(editor.text), len(editor.text), "\n# typing on\n")  # sent right behind it
    result = await pending
    assert result["version"] == editor.version, "an answer for a version the document has left"


BAD_NAMES = "def area(width, height):\n    return width * height\n"


@pytest.mark.parametrize(
    ("new", "why"),
    [
        ("2w", "rename_invalid_identifier"),
        ("class", "rename_invalid_identifier"),
        ("height", "rename_collision"),
    ],
)
async def test_a_rename_to_an_invalid_or_taken_name_suggests_nothing(server, new, why):
    client, root = server
    editor = KeyboardEditor(client, (root / f"bad_{new}.py").as_uri(), BAD_NAMES)
    before = (await stats(client))["decisions"].get(f"structural_{why}", 0)
    cursor = editor.retype(BAD_NAMES.index("width"), "width", new)
    result = await next_edit(editor, cursor)
    assert result["edits"] == [] or result["source"] == "model"
    assert (await stats(client))["decisions"][f"structural_{why}"] == before + 1


async def test_a_file_that_does_not_parse_gets_nothing_wrong(server):
    client, root = server
    broken = "def area(width, height:\n    return width * (height\n\nprint(area(2, 3)\n"
    editor = KeyboardEditor(client, (root / "broken.py").as_uri(), broken)
    cursor = editor.retype(broken.index("width"), "width", "w")
    result = await next_edit(editor, cursor)
    for edit in result["edits"]:  # nothing, or the use renamed: never anything else
        assert edit["newText"] in ("", "w"), result


async def test_fifty_thousand_lines_and_a_burst_of_edits(server):
    client, root = server
    body = "".join(f"def helper_{n}(value):\n    return value + {n}\n\n\n" for n in range(12_500))
    target = "def area(width, height):\n    total = width * height\n    return total, width\n"
    text = body + target
    assert text.count("\n") >= 50_000
    editor = KeyboardEditor(client, (root / "large.py").as_uri(), text)
    at = text.index("def area(width") + len("def area(")
    for n in range(300):  # hundreds of edits in a burst: typed and deleted at the end
        end = len(editor.text)
        editor.replace(end, end, "x") if n % 2 == 0 else editor.replace(end - 1, end, "")
    cursor = editor.retype(at, "width", "w")
    taken = await rename_all(editor, cursor)
    assert len(taken) == 2
    assert editor.text.endswith("def area(w, height):\n    total = w * height\n    return total, w\n")
    assert editor.text[: len(body)] == body
