"""What an editor shows a new user, from servers of their own: one suggestion surface, and a
model that cannot be loaded said once, in words, with where to fix it.

The model is missing, so the engine fails at once (before vLLM is imported): these
servers are cheap.
"""

from __future__ import annotations

from lsprotocol import types

from tests.client import client_config
from tests.conftest import client_capabilities
from tests.support import RUN_DIR, serve_command, server_env, stats_where, wait_until

MISSING = RUN_DIR / "no-such-model"


def without_inline_completion() -> types.ClientCapabilities:
    """What Neovim 0.11 and Helix declare: no textDocument/inlineCompletion."""
    caps = client_capabilities()
    caps.text_document.inline_completion = None
    return caps


def with_own_status() -> types.ClientCapabilities:
    """What the VS Code extension declares."""
    caps = client_capabilities()
    caps.experimental = {"aicockpit": {"ownStatus": True}}
    return caps


async def failed_engine(client) -> dict:
    failed = stats_where(client, lambda s: s["engine"]["state"] == "failed")
    return (await wait_until(failed, 120, "the engine to fail"))["engine"]


async def test_a_missing_model_given_by_flag_is_one_message_naming_the_flag():
    config = client_config(serve_command("--model", str(MISSING)), server_env())
    client = await config.start()
    try:
        result = await client.initialize_session(
            types.InitializeParams(capabilities=without_inline_completion())
        )
        # No inline completion: the completion-item fallback is offered.
        assert result.capabilities.completion_provider is not None
        assert result.capabilities.inline_completion_provider is not None
        engine = await failed_engine(client)
    finally:
        await client.shutdown_session()
        await client.stop()
    # The flag wins over the editor's settings: the message says where the model came from.
    assert engine["fix"] == {"flag": "--model"}, engine
    assert engine["error"] == f"model folder {MISSING} does not exist"
    shown = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert shown == [
        f"aicockpit cannot load the model: model folder {MISSING} does not exist"
        " (the model comes from the server's --model flag)"
    ], shown
    logs = "\n".join(m.message for m in client.log_messages)
    assert "Traceback" not in logs, logs


async def test_a_missing_model_in_the_settings_names_engine_model():
    command = serve_command()
    at = command.index("--model")
    del command[at : at + 2]  # the model comes from the editor's settings only
    client = await client_config(command, server_env()).start()
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=without_inline_completion(),
                initialization_options={"engine": {"model": str(MISSING)}},
            )
        )
        engine = await failed_engine(client)
    finally:
        await client.shutdown_session()
        await client.stop()
    assert engine["fix"] == {"setting": "engine.model"}, engine
    shown = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert shown == [
        f"aicockpit cannot load the model: model folder {MISSING} does not exist; set engine.model"
    ], shown


async def test_a_relative_model_folder_is_a_folder_not_a_hub_id():
    """`models/coder` reads like a Hugging Face id; beside a `models/` folder it is a folder."""
    workspace = RUN_DIR / "relative-model"
    (workspace / "models").mkdir(parents=True, exist_ok=True)
    command = serve_command()
    at = command.index("--model")
    del command[at : at + 2]
    # The server runs in the workspace, as editors start it: relative paths are from there.
    in_workspace = ["env", "-C", str(workspace), *command]
    client = await client_config(in_workspace, server_env()).start()
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=without_inline_completion(),
                initialization_options={"engine": {"model": "models/coder"}},
            )
        )
        engine = await failed_engine(client)
    finally:
        await client.shutdown_session()
        await client.stop()
    missing = workspace.resolve() / "models" / "coder"  # .cache may be a symlink
    assert engine["error"] == f"model folder {missing} does not exist", engine
    shown = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert shown == [
        f"aicockpit cannot load the model: model folder {missing} does not exist; set engine.model"
    ], shown


async def test_a_client_that_shows_its_own_status_gets_no_second_indicator():
    client = await client_config(serve_command("--model", str(MISSING)), server_env()).start()
    try:
        result = await client.initialize_session(types.InitializeParams(capabilities=with_own_status()))
        # It shows ghost text: no completion items that would repeat each suggestion.
        assert result.capabilities.completion_provider is None
        assert result.capabilities.inline_completion_provider is not None
        engine = await failed_engine(client)
        assert isinstance(engine["state_seconds"], float)
    finally:
        await client.shutdown_session()
        await client.stop()
    assert engine["error"] == f"model folder {MISSING} does not exist"
    # It reads the failure from aicockpit/stats: no message, and no progress it did not ask for.
    assert client.messages == []
    assert client.progress_reports == {}
