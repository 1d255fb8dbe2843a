"""Natural-language edits: aicockpit.edit and the AI code actions, against the real engine."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled

from tests.conftest import INIT_OPTIONS
from tests.e2e.editor import Editor
from tests.e2e.helpers import request
from tests.support import (
    ABORT_ALLOWED_S,
    engine_idle,
    plain,
    scratch_workspace,
    stats,
    wait_until,
)

SOURCE = '''"""Prices."""

RATE = 0.19


def vat(amount: int) -> int:
    """Tax on an amount in cents."""
    return round(amount * RATE)


# ai: make this function async
def total(amounts: list[int]) -> int:
    result = sum(amounts)
    return result + vat(result)


def untouched() -> str:
    return "keep me"
'''
LINES = SOURCE.split("\n")
TOTAL = LINES.index("def total(amounts: list[int]) -> int:")
COMMENT = TOTAL - 1
UNTOUCHED = LINES.index("def untouched() -> str:")
_names = iter(range(1000))


@pytest.fixture
def editor(ready):
    editor = Editor(ready)
    uri = (scratch_workspace() / f"edit_{next(_names)}.py").as_uri()
    editor.open(uri, SOURCE)
    editor.uri = uri
    return editor


def edit_args(editor, first: int, last: int, instruction: str, version=None) -> dict:
    return {
        "uri": editor.uri,
        "range": {"start": {"line": first, "character": 0}, "end": {"line": last + 1, "character": 0}},
        "instruction": instruction,
        "version": editor.versions[editor.uri] if version is None else version,
    }


async def run_command(client, command: str, argument: dict):
    return plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[argument])
        )
    )


def edited_lines(params: types.ApplyWorkspaceEditParams) -> list[types.Range]:
    (change,) = params.edit.document_changes
    return [e.range for e in change.edits]


async def test_edit_is_applied_as_a_minimal_annotated_diff_inside_the_selection(editor, ready):
    first, last = TOTAL, TOTAL + 2
    result = await run_command(ready, "aicockpit.edit", edit_args(editor, first, last, "use a loop"))
    assert result["applied"] is True and result["edits"] >= 1
    (params,) = editor.applied
    (change,) = params.edit.document_changes
    assert change.text_document.version == 1
    for edit in change.edits:
        assert edit.annotation_id in params.edit.change_annotations
        assert first <= edit.range.start.line <= edit.range.end.line <= last + 1
        assert edit.range.start.character == 0 and edit.range.end.character == 0
    assert "use a loop" in params.edit.change_annotations[change.edits[0].annotation_id].label
    # Lines outside the selection are exactly as they were.
    after = editor.texts[editor.uri].split("\n")
    assert after[:first] == LINES[:first]
    assert after[-(len(LINES) - last - 1) :] == LINES[last + 1 :]


async def test_a_stale_version_is_refused_and_nothing_is_applied(editor, ready):
    with pytest.raises(JsonRpcException, match="changed since"):
        await run_command(ready, "aicockpit.edit", edit_args(editor, TOTAL, TOTAL + 2, "rename", version=0))
    assert editor.applied == []
    assert editor.texts[editor.uri] == SOURCE


async def test_typing_during_generation_cancels_the_edit(editor, ready):
    pending = asyncio.ensure_future(
        run_command(ready, "aicockpit.edit", edit_args(editor, TOTAL, TOTAL + 2, "add logging"))
    )
    await asyncio.sleep(0)  # the scenario, not a wait: the request is on its way; now the user types
    editor.type(editor.uri, UNTOUCHED + 1, 0, "    # typed\n")
    with pytest.raises(JsonRpcException, match="changed since"):
        await pending
    assert editor.applied == []
    assert "    # typed\n" in editor.texts[editor.uri]


async def actions_at(client, uri: str, line: int, diagnostics=()) -> list[types.CodeAction]:
    position = types.Position(line=line, character=0)
    return list(
        await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=position, end=position),
                context=types.CodeActionContext(diagnostics=list(diagnostics)),
            )
        )
    )


async def test_instruction_comment_action_is_resolved_and_removes_the_comment(editor, ready):
    actions = await actions_at(ready, editor.uri, TOTAL)
    (action,) = [a for a in actions if a.title.startswith("Apply AI instruction")]
    assert "make this function async" in action.title
    assert action.edit is None  # listing is cheap: the model runs on resolve
    resolved = await ready.code_action_resolve_async(action)
    (change,) = resolved.edit.document_changes
    assert any(e.range.start.line <= COMMENT < e.range.end.line for e in change.edits)  # comment replaced
    assert all(COMMENT <= e.range.start.line and e.range.end.line <= TOTAL + 3 for e in change.edits)
    editor.apply_workspace_edit(resolved.edit)
    text = editor.texts[editor.uri]
    assert "# ai: make this function async" not in text
    assert text.endswith('def untouched() -> str:\n    return "keep me"\n')


async def test_fix_with_ai_is_offered_only_for_diagnostics(editor, ready):
    plain = await actions_at(ready, editor.uri, TOTAL + 1)
    assert not [a for a in plain if a.title.startswith("Fix with AI")]
    diagnostic = types.Diagnostic(
        range=types.Range(
            start=types.Position(line=TOTAL + 1, character=4),
            end=types.Position(line=TOTAL + 1, character=10),
        ),
        message="result is never negative",
        code="X100",
        source="lint",
    )
    with_diagnostic = await actions_at(ready, editor.uri, TOTAL + 1, [diagnostic])
    (fix,) = [a for a in with_diagnostic if a.title.startswith("Fix with AI")]
    assert fix.kind == types.CodeActionKind.QuickFix and fix.diagnostics[0].code == "X100"
    resolved = await ready.code_action_resolve_async(fix)
    assert resolved.edit is not None


async def test_docstring_action_inserts_a_docstring_and_leaves_the_code(editor, ready):
    actions = await actions_at(ready, editor.uri, TOTAL + 1)
    (doc,) = [a for a in actions if a.title.startswith("Add docstring")]
    resolved = await ready.code_action_resolve_async(doc)
    editor.apply_workspace_edit(resolved.edit)
    lines = editor.texts[editor.uri].split("\n")
    assert lines[TOTAL] == LINES[TOTAL]
    assert lines[TOTAL + 1].startswith('    """')
    assert [line for line in lines if '"""' not in line] == [line for line in LINES if '"""' not in line] or (
        len(lines) > len(LINES)
    )


async def test_explain_shows_the_answer_and_keeps_it_in_a_session(editor, ready):
    actions = await actions_at(ready, editor.uri, TOTAL)
    (explain,) = [a for a in actions if a.title.startswith("Explain")]
    before = len(ready.messages)
    (argument,) = explain.command.arguments
    result = await run_command(ready, explain.command.command, plain(argument))
    assert result["session"] and result["reply"]
    assert len(ready.messages) == before + 1
    assert ready.messages[-1].type == types.MessageType.Info


async def test_every_ai_code_action_is_tagged_llm_generated(editor, ready):
    """LSP 3.18's CodeActionTag.LLMGenerated (1) on the wire, listed and resolved."""
    where = {"start": {"line": TOTAL, "character": 0}, "end": {"line": TOTAL, "character": 0}}
    problem = {"range": where, "message": "result is never negative", "source": "lint"}
    actions = await request(
        ready,
        "textDocument/codeAction",
        {"textDocument": {"uri": editor.uri}, "range": where, "context": {"diagnostics": [problem]}},
    )
    titles = [a["title"] for a in actions]
    assert [t.split(":")[0] for t in titles] == [
        "Apply AI instruction", "Fix with AI", "Add docstring with AI", "Explain this code with AI"
    ], titles  # fmt: skip
    assert [a.get("tags") for a in actions] == [[1]] * len(actions), actions
    # A client that drops the tags when it sends the action back gets them again.
    doc = {k: v for k, v in actions[2].items() if k != "tags"}
    resolved = await request(ready, "codeAction/resolve", doc, timeout=120)
    assert resolved["edit"] and resolved["tags"] == [1], resolved


async def test_a_secrets_file_is_never_edited_by_the_model(ready):
    editor = Editor(ready)
    uri = (scratch_workspace() / "deploy.env").as_uri()
    editor.open(uri, "API_KEY=do-not-send\nDEBUG=1\n", language="dotenv")
    editor.uri = uri
    assert await actions_at(ready, uri, 0) == []
    with pytest.raises(JsonRpcException, match="secrets file"):
        await run_command(ready, "aicockpit.edit", edit_args(editor, 0, 1, "sort the lines"))


async def test_bad_command_arguments_get_a_clear_error(ready):
    with pytest.raises(JsonRpcException, match="invalid arguments"):
        await run_command(ready, "aicockpit.edit", {"uri": 3})
    with pytest.raises(JsonRpcException, match="not open"):
        await run_command(
            ready,
            "aicockpit.edit",
            {
                "uri": "file:///nope.py",
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
                "instruction": "x",
            },
        )


async def test_edit_progress_can_be_cancelled_and_aborts_generation(editor, ready):
    settings = {**INIT_OPTIONS, "edit": {"max_tokens": 2000}}
    ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    known = set(ready.progress_reports)
    try:
        pending = asyncio.ensure_future(
            run_command(ready, "aicockpit.edit", edit_args(editor, TOTAL, TOTAL + 2, "rewrite it"))
        )

        async def generating() -> bool:
            progress = set(ready.progress_reports) - known
            return bool(progress) and (await stats(ready))["engine"]["unfinished_requests"] > 0

        await wait_until(generating, 30, "the edit's progress, and its generation in the engine", 0.01)
        (token,) = set(ready.progress_reports) - known
        begin = ready.progress_reports[token][0]
        assert begin.kind == "begin" and begin.cancellable is True and "editing" in begin.title
        ready.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        with pytest.raises(JsonRpcRequestCancelled):
            await asyncio.wait_for(pending, 30)
        await wait_until(engine_idle(ready), ABORT_ALLOWED_S, "vLLM to drop the cancelled edit", 0.02)
        assert editor.applied == []
    finally:
        ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=INIT_OPTIONS))


async def test_an_edit_reports_progress_in_words_on_the_clients_own_token(editor, ready):
    # Client-initiated progress (the VS Code extension's cancellable notification):
    # the server reports on the request's workDoneToken and creates none of its own.
    token = "client-edit-1"
    ready.progress_reports[token] = []  # pytest-lsp records only tokens it knows
    known = set(ready.progress_reports)
    result = plain(
        await ready.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="aicockpit.previewEdit",
                arguments=[edit_args(editor, TOTAL, TOTAL + 2, "rename result to subtotal")],
                work_done_token=token,
            )
        )
    )
    assert result["edit"]
    assert set(ready.progress_reports) == known
    reports = ready.progress_reports[token]
    begin, end = reports[0], reports[-1]
    assert begin.kind == "begin" and begin.cancellable is True
    assert begin.title == f"aicockpit: editing {editor.uri.rsplit('/', 1)[-1]}"
    assert begin.message == f"lines {TOTAL + 1}-{TOTAL + 3}: asking the model"
    assert all(r.message.endswith(("line written", "lines written")) for r in reports[1:-1]), reports
    assert end.kind == "end" and end.message == "done"
