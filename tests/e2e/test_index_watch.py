"""A server of its own whose client watches files: the index uses the client's events, not watchdog.

No model is needed for the index, so this server points at a model folder that does
not exist: its engine fails (reported), and the index works all the same.
"""

from __future__ import annotations

import asyncio
import sys

from lsprotocol import types

from aicockpit.bench.client import LspClient
from tests.client import client_config
from tests.support import plain, server_env, wait_until


def watching_client_capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            workspace_folders=True,
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True),
        ),
    )


async def folder_state(client) -> dict:
    status = plain(await client.protocol.send_request_async("aicockpit/index", None))
    return {**status["folders"][0], "watch": status["watch"]} if status["folders"] else {}


async def test_client_file_events_update_the_index_and_watchdog_stays_off(tmp_path):
    root = tmp_path / "watched"
    root.mkdir()
    (root / "first.py").write_text("def first():\n    pass\n")
    command = [sys.executable, "-m", "aicockpit", "serve", "--model", str(tmp_path / "no-model")]
    client = await client_config(command, server_env()).start()
    registrations: list[types.RegistrationParams] = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        registrations.append(params)

    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=watching_client_capabilities(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="watched")],
            )
        )

        async def indexed(files: int):
            state = await folder_state(client)
            return state if state.get("ready") and state["files"] == files else None

        state = await wait_until(lambda: indexed(1), 30, "1 file indexed")
        assert state["watch"] == "client"
        methods = [r.method for p in registrations for r in p.registrations]
        assert methods == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]

        # A change nobody reports is not picked up: no second watcher runs behind the client's back.
        second = root / "second.py"
        second.write_text("def second():\n    pass\n")
        # A window, not a wait for an event: nothing may come of the write, and no event says
        # that nothing came (a watcher of the server's own would have seen the file by now).
        await asyncio.sleep(1.5)
        assert (await folder_state(client))["files"] == 1

        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=second.as_uri(), type=types.FileChangeType.Created)]
            )
        )
        state = await wait_until(lambda: indexed(2), 30, "2 files indexed")
        assert state["definitions"] == 2

        second.unlink()
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=second.as_uri(), type=types.FileChangeType.Deleted)]
            )
        )
        await wait_until(lambda: indexed(1), 30, "1 file indexed again")
    finally:
        await client.shutdown_session()


async def test_the_index_is_not_ready_before_its_crawl_nor_held_up_by_progress_handshakes(tmp_path):
    """An editor that never answers window/workDoneProgress/create (the engine's loading and the
    crawl both ask for a token) still gets its workspace indexed; and before ``initialized`` the
    index has not started, so it is not ready."""
    root = tmp_path / "slow-editor"
    root.mkdir()
    (root / "first.py").write_text("def first():\n    pass\n")
    command = [sys.executable, "-m", "aicockpit", "serve", "--model", str(tmp_path / "no-model")]
    client = await LspClient.spawn(command, server_env())
    client.unanswered.add("window/workDoneProgress/create")
    try:
        capabilities = {"window": {"workDoneProgress": True}}
        await client.request(
            "initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": capabilities}
        )
        before = await client.request("aicockpit/index", None)
        assert before["ready"] is False and before["started"] is False and before["folders"] == []
        client.notify("initialized", {})

        async def ready_index() -> dict | None:
            status = await client.request("aicockpit/index", None)
            return status if status["ready"] else None

        status = await wait_until(ready_index, 60, "the index to be ready")
        assert [(f["ready"], f["files"]) for f in status["folders"]] == [(True, 1)]
        # Both tokens were asked for and neither was ever accepted: nothing waited for them.
        tokens = [message["params"]["token"] for message in client.held]
        assert len(tokens) == 2 and len(set(tokens)) == 2, tokens
    finally:
        await client.close()
