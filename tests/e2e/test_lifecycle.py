"""A server of its own: bad options, requests while loading, and a clean exit."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import psutil
from lsprotocol import types

from tests.client import client_config
from tests.conftest import client_capabilities
from tests.e2e.helpers import CHECKOUT, inline_params, open_doc, utf16
from tests.support import (
    EXIT_ALLOWED_S,
    serve_command,
    server_env,
    stats,
    wait_ended,
    wait_engine_ready,
)

BAD_OPTIONS = {
    "completion": {"max_tokens": 7, "multiline": "sometimes", "timeout_ms": "soon"},
    "engine": {"no_such_setting": 1},
}


async def test_bad_options_loading_requests_and_shutdown_leave_nothing_behind():
    known = {child.pid for child in psutil.Process().children()}
    temp = Path(tempfile.mkdtemp(prefix="lifecycle-"))  # the server's TMPDIR: what it leaves there
    client = await client_config(serve_command(), {**server_env(), "TMPDIR": str(temp)}).start()
    (server,) = [child for child in psutil.Process().children() if child.pid not in known]
    try:
        await client.initialize_session(
            types.InitializeParams(capabilities=client_capabilities(), initialization_options=BAD_OPTIONS)
        )
        text = CHECKOUT.read_text(encoding="utf-8")
        uri = open_doc(client, text)
        row = text.split("\n").index("        total = ")

        # While the engine loads, requests are answered at once, and empty.
        early = await asyncio.wait_for(
            client.text_document_inline_completion_async(inline_params(uri, row, 16)), 5
        )
        assert list(early.items) == []
        assert (await stats(client))["engine"]["state"] == "loading"

        # Each bad field is named in an error message; the good ones still apply.
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert any("completion.multiline" in m for m in errors), errors
        assert any("completion.timeout_ms" in m for m in errors), errors
        assert any("no_such_setting" in m for m in errors), errors

        await wait_engine_ready(client)
        result = await client.text_document_inline_completion_async(
            inline_params(uri, row, utf16("        total = "))
        )
        assert len(result.items) == 1 and result.items[0].insert_text.strip()
        assert (await stats(client))["last_request"]["generated_tokens"] <= 7  # the good option applied

        children = server.children(recursive=True)
        assert children, "the engine core runs in a child process"
        (ipc,) = temp.glob("aicockpit-*")  # vLLM's sockets, in a directory of the server's own
        assert any(path.is_socket() for path in ipc.iterdir()), list(ipc.iterdir())
    finally:
        started = time.perf_counter()
        await client.shutdown_session()  # shutdown, exit, and the process's end
        ended_s = time.perf_counter() - started
        await client.stop()
    assert client.exit_code == 0
    await wait_ended(children)
    children_s = time.perf_counter() - started
    print(f"\nidle, shutdown+exit: process ended in {ended_s:.2f} s, its children in {children_s:.2f} s")
    assert ended_s < EXIT_ALLOWED_S and children_s < EXIT_ALLOWED_S
    assert not ipc.exists()  # killed engine processes leave their sockets: removed with the directory
    assert not [path for path in temp.rglob("*") if path.is_socket()]
    shutil.rmtree(temp)  # what vLLM and torch leave there (a torch cache, a distributed-init file)
