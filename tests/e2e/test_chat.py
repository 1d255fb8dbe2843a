"""Chat over LSP: streaming, mentions, sessions, shell suggestions, priority over chat."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled

from tests.client import client_config, send_raw
from tests.conftest import INIT_OPTIONS, client_capabilities
from tests.e2e.editor import Editor
from tests.e2e.helpers import inline_params, open_doc
from tests.support import (
    WORKSPACE,
    plain,
    scratch_workspace,
    serve_command,
    server_env,
    stats_where,
    wait_until,
)

CHAT = "aicockpit/chat"
CREATED: dict[str, str] = {}


async def request(client, method: str, params) -> dict:
    return plain(await asyncio.wait_for(send_raw(client, method, params), 120))


async def test_chat_streams_partial_results_and_answers_in_full(ready):
    editor = Editor(ready)
    reply = await request(ready, CHAT, {"message": "What does checkout do?", "partialResultToken": "chat-1"})
    assert reply["reply"] and reply["session"]
    assert "".join(editor.partials["chat-1"]) == reply["reply"]
    assert reply["prompt_tokens"] > 0 and reply["completion_tokens"] > 0
    CREATED["first"] = reply["session"]


async def test_mentions_add_workspace_code_and_refuse_escapes(ready):
    escape = scratch_workspace() / "escape"
    if not escape.is_symlink():
        escape.symlink_to("/etc")  # a symlink out of the workspace
    (scratch_workspace() / "secrets.yaml").write_text("token: do-not-send\n")  # in index.secrets
    message = (
        "Compare @shop/pricing.py and @loyalty_discount with @../../etc/passwd, @escape/passwd, "
        "@/etc/hostname, @.env and @secrets.yaml"
    )
    reply = await request(ready, CHAT, {"message": message, "session": CREATED["first"]})
    notices = reply["notices"]
    refused = [n for n in notices if "refused" in n]
    assert any("../../etc/passwd" in n and "leaves the workspace" in n for n in refused), notices
    assert any("escape/passwd" in n and "symlink" in n for n in refused), notices
    assert any("/etc/hostname" in n and "absolute" in n for n in refused), notices
    assert any(".env" in n and "secrets" in n for n in refused), notices
    assert any("secrets.yaml" in n and "secrets" in n for n in refused), notices
    assert not [n for n in notices if "pricing" in n or "loyalty_discount" in n], notices
    # The accepted mentions became context: the prompt grew by the mentioned code.
    assert reply["prompt_tokens"] > 200


async def test_a_selection_in_a_secrets_file_is_not_sent(ready):
    uri = (scratch_workspace() / ".env").as_uri()
    Editor(ready).open(uri, "API_KEY=do-not-send\n", language="dotenv")
    selection = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}
    reply = await request(ready, CHAT, {"message": "What is this?", "uri": uri, "selection": selection})
    assert any(".env" in n and "not sent" in n for n in reply["notices"]), reply["notices"]
    without = await request(ready, CHAT, {"message": "What is this?"})
    assert reply["prompt_tokens"] == without["prompt_tokens"]  # the same prompt: no selection in it


async def test_sessions_continue_fork_rename_and_delete(ready):
    session = CREATED["first"]
    history = (await request(ready, "aicockpit/chat/history", {"session": session}))["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[1]["prompt_tokens"] > 0 and history[1]["completion_tokens"] > 0

    forked = (await request(ready, "aicockpit/chat/fork", {"session": session, "index": 1}))["session"]
    forked_history = (await request(ready, "aicockpit/chat/history", {"session": forked}))["messages"]
    assert [m["content"] for m in forked_history] == [m["content"] for m in history[:2]]

    await request(ready, "aicockpit/chat/rename", {"session": forked, "title": "Pricing questions"})
    listed = (await request(ready, "aicockpit/chat/sessions", None))["sessions"]
    assert {"id": forked, "title": "Pricing questions"}.items() <= next(
        s for s in listed if s["id"] == forked
    ).items()

    await request(ready, "aicockpit/chat/delete", {"session": forked})
    listed = (await request(ready, "aicockpit/chat/sessions", None))["sessions"]
    assert forked not in [s["id"] for s in listed] and session in [s["id"] for s in listed]
    with pytest.raises(JsonRpcException, match="no chat session"):
        await request(ready, "aicockpit/chat/history", {"session": forked})
    with pytest.raises(JsonRpcException, match="has no message"):
        await request(ready, "aicockpit/chat/fork", {"session": session, "index": 99})


async def test_mention_candidates_list_workspace_files_but_no_secrets(ready):
    items = (await request(ready, "aicockpit/mentions", {"query": "pric"}))["items"]
    assert items[0]["label"] == "shop/pricing.py"
    everything = (await request(ready, "aicockpit/mentions", {"query": "e", "limit": 500}))["items"]
    assert ".env" not in [i["label"] for i in everything]


async def test_shell_command_is_suggested_never_run(ready):
    marker = scratch_workspace() / "must-not-exist"
    result = plain(
        await ready.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="aicockpit.shellCommand", arguments=[{"description": f"create the file {marker}"}]
            )
        )
    )
    assert set(result) == {"command", "explanation"} and isinstance(result["command"], str)
    assert not marker.exists()


async def test_a_completion_finishes_while_a_long_chat_runs(ready):
    long_chat = {**INIT_OPTIONS, "chat": {"max_tokens": 2000}}
    ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=long_chat))
    try:
        chat = send_raw(ready, CHAT, {"message": "Explain everything at length."}, msg_id="long-chat")
        generating = stats_where(ready, lambda s: s["engine"]["unfinished_requests"] > 0)
        await wait_until(generating, 30, "the chat in the engine", 0.01)
        text = (WORKSPACE / "shop" / "checkout.py").read_text(encoding="utf-8")
        uri = open_doc(ready, text)
        row = text.split("\n").index("        total = ")
        result = await ready.text_document_inline_completion_async(inline_params(uri, row, 16))
        assert len(result.items) == 1
        assert not chat.done(), "the completion waited for the chat to finish"
        ready.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="long-chat"))
        with pytest.raises(JsonRpcRequestCancelled):
            await asyncio.wait_for(chat, 30)
    finally:
        ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=INIT_OPTIONS))


async def test_sessions_survive_a_server_restart(ready):
    env = {**server_env(), "HF_HUB_OFFLINE": "1"}
    # The second server needs no model for this: its engine may fail, sessions still answer.
    client = await client_config(serve_command(), env).start()
    try:
        await client.initialize_session(
            types.InitializeParams(capabilities=client_capabilities(), root_uri=scratch_workspace().as_uri())
        )
        listed = (await request(client, "aicockpit/chat/sessions", None))["sessions"]
        assert CREATED["first"] in [s["id"] for s in listed]
        history = (await request(client, "aicockpit/chat/history", {"session": CREATED["first"]}))["messages"]
        assert len(history) >= 4
    finally:
        await client.shutdown_session()
        await client.stop()
