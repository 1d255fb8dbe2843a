"""Behaviour a user sees, on a real model: SmolLM2-135M-Instruct on the embedded vLLM engine, over LSP.

The model has no FIM tokens, so completions use the prefix-only prompt and
post-processing alone keeps them from running into the code after the cursor.
Greedy decoding keeps runs repeatable; the assertions are about properties
(one line, an indented block that ends, no duplicated text, valid syntax),
never about exact text. What the model received is checked in what vLLM
tokenized (``aicockpit/prompts``).
"""

from __future__ import annotations

import asyncio
import shutil

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.client import client_config, send_raw, to_json
from tests.conftest import client_capabilities
from tests.e2e.editor import Editor
from tests.support import (
    ABORT_ALLOWED_S,
    RUN_DIR,
    WORKSPACE,
    engine_idle,
    plain,
    serve_command,
    server_env,
    small_model,
    stats_where,
    wait_engine_ready,
    wait_until,
)

OPTIONS = {
    "completion": {"max_tokens": 24, "timeout_ms": 30000, "debounce_min_ms": 0, "debounce_max_ms": 0},
    "roles": {"completion": {"first_token_timeout_ms": 60000, "timeout_ms": 60000}},
    "edit": {"max_tokens": 96},
    "chat": {"max_tokens": 48},
    "logging": {"prompts": True},
}


def python_errors(text: str) -> bool:
    from aicockpit.context import languages

    parser = languages.grammar(languages.for_path("x.py")).parser()
    return parser.parse(text.encode()).root_node.has_error


@pytest.fixture(scope="module")
async def smol():
    root = RUN_DIR / "real-model" / "workspace"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(WORKSPACE, root)
    (root / ".git").mkdir()
    command = serve_command()
    command[command.index("--model") + 1] = str(small_model())
    client = await client_config(command, server_env()).start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(), root_uri=root.as_uri(), initialization_options=OPTIONS
        )
    )
    await wait_engine_ready(client)
    yield client, Editor(client), root
    await client.shutdown_session()
    await client.stop()


async def ghost_text(client, uri: str, line: int, character: int) -> str:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert result.items, "no suggestion"
    return result.items[0].insert_text


async def test_a_mid_line_completion_is_one_valid_line_that_does_not_repeat_the_rest(smol):
    client, editor, root = smol
    text = "def read_text(path):\n    with open(path, ) as f:\n        return f.read()\n"
    uri = (root / "reader.py").as_uri()
    editor.open(uri, text)
    column = len("    with open(path, ")
    suggestion = await ghost_text(client, uri, 1, column)
    assert suggestion.strip() and "\n" not in suggestion
    assert not suggestion.rstrip().endswith(")") and "as f" not in suggestion  # the rest is already there
    line = "    with open(path, " + suggestion + ") as f:"
    assert not python_errors(text.replace("    with open(path, ) as f:", line)), line
    # What the model got: the prefix only, the file named in a path comment, no suffix.
    prompt = (await last_prompt(client, "completion"))["processed"]
    assert prompt.endswith("# reader.py\ndef read_text(path):\n    with open(path,")
    assert "return f.read()" not in prompt


async def test_after_a_function_header_the_suggestion_is_an_indented_block_that_ends(smol):
    client, editor, root = smol
    text = "import os\n\n\ndef read_lines(path):\n    \n"
    uri = (root / "lines.py").as_uri()
    editor.open(uri, text)
    # Room for a block: a block cut by max_tokens shows its complete lines only.
    completion = {**OPTIONS["completion"], "max_tokens": 64}
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={**OPTIONS, "completion": completion})
    )
    try:
        suggestion = await ghost_text(client, uri, 4, 4)
    finally:
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=OPTIONS))
    lines = suggestion.split("\n")
    assert len(lines) >= 2 and lines[0].strip(), suggestion
    assert all(line.startswith("    ") for line in lines[1:] if line.strip()), suggestion  # inside the block
    completed = text.replace("    \n", "    " + suggestion + "\n")
    assert not python_errors(completed), completed


async def test_cancelling_a_generation_aborts_it_in_vllm(smol):
    client, editor, root = smol
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={
                **OPTIONS,
                "completion": {**OPTIONS["completion"], "max_tokens": 1000, "multiline": "always"},
            }
        )
    )
    try:
        uri = (root / "story.py").as_uri()
        editor.open(uri, '"""A long story."""\n\nSTORY = """\n')
        params = to_json(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=3, character=0),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
        )
        pending = send_raw(client, types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="long-story")
        generating = stats_where(client, lambda s: s["engine"]["unfinished_requests"] > 0)
        await wait_until(generating, 60, "the story in the engine", 0.02)
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="long-story"))
        with pytest.raises(JsonRpcRequestCancelled):
            await asyncio.wait_for(pending, 30)
        # vLLM dropped it, not just the server (the rest of 1000 tokens takes ~28 s here).
        after = await wait_until(
            engine_idle(client), ABORT_ALLOWED_S, "vLLM to drop the cancelled request", 0.02
        )
        assert after["last_request"]["generated_tokens"] < 1000
    finally:
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=OPTIONS))


async def test_an_edit_of_a_small_function_comes_back_as_a_minimal_diff(smol):
    client, editor, root = smol
    text = 'def greet(name):\n    return "Hello " + name\n\n\ndef untouched():\n    return 1\n'
    uri = (root / "greet.py").as_uri()
    editor.open(uri, text)
    result = plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="aicockpit.previewEdit",
                arguments=[
                    {
                        "uri": uri,
                        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}},
                        "instruction": "Use an f-string.",
                        "version": editor.versions[uri],
                    }
                ],
            )
        )
    )
    (change,) = result["edit"]["documentChanges"]
    assert change["edits"], "the model changed nothing"
    for edit in change["edits"]:
        assert edit["range"]["end"]["line"] <= 2  # inside the selection: untouched() stays as it is
    assert result["new_text"] != 'def greet(name):\n    return "Hello " + name\n'
    prompt = (await last_prompt(client, "edit"))["processed"]
    assert "<|im_start|>user\n" in prompt and 'return "Hello " + name' in prompt and "f-string" in prompt


async def test_chat_answers_about_a_mentioned_file(smol):
    client, _, _ = smol
    reply = plain(
        await asyncio.wait_for(
            send_raw(client, "aicockpit/chat", {"message": "What does @shop/pricing.py compute?"}), 120
        )
    )
    assert reply["reply"].strip()
    prompt = (await last_prompt(client, "chat"))["processed"]
    assert "def loyalty_discount(" in prompt and "What does @shop/pricing.py compute?" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


async def last_prompt(client, role: str) -> dict:
    entries = plain(await send_raw(client, "aicockpit/prompts", None))["prompts"]
    return next(e for e in reversed(entries) if e["role"] == role and e["processed"])


async def test_a_next_edit_round_trip_on_the_real_model(smol):
    client, editor, root = smol
    uri = (root / "geometry.py").as_uri()
    editor.open(uri, "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n")
    at = len("def area(w")
    for _ in range(4):  # rename width -> w, one keystroke at a time
        start, end = types.Position(line=0, character=at), types.Position(line=0, character=at + 1)
        editor._change(uri, [types.TextEdit(range=types.Range(start=start, end=end), new_text="")])
    params = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}}
    # The model's path: a rename is found from the syntax tree otherwise.
    settings = {**OPTIONS, "next_edit": {"structural": False}}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    try:
        result = plain(await asyncio.wait_for(send_raw(client, "aicockpit/nextEdit", params), 120))
    finally:
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=OPTIONS))
    assert set(result) == {"id", "version", "edits", "source", "label"}  # the trip is the point
    if result["edits"]:
        assert result["version"] == editor.versions[uri]
    prompt = (await last_prompt(client, "next_edit"))["processed"]  # as vLLM tokenized it
    for part in ("-def area(width, height):", "+def area(w, height):", "<|editable_region_start|>"):
        assert part in prompt
    assert "<|user_cursor_is_here|>return width * height" in prompt
