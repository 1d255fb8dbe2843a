"""Bad input from the client, seen at the boundary: answers on the server's stdout, warnings in its log.

A real ``aicockpit serve`` over pipes, with the engine stub: none of this depends
on the model (tests/e2e/test_adversarial.py sends the same kinds of input to one
running the tiny model).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from aicockpit.bench.client import LspClient, LspError
from aicockpit.framing import MessageReader
from tests.hostile import frame
from tests.support import raw_session, server_env, wait_until

ANSWER_S = 5  # an answer within this is prompt on a loaded 2-core machine; a wedge never answers
SERVE_STUB = [sys.executable, "-m", "aicockpit", "serve", "--dev-engine-stub", "1", "--log-level", "info"]


@pytest.fixture(scope="module")
async def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("protocol") / "server.log"
    with log.open("wb") as stderr:
        client = await raw_session(SERVE_STUB, stderr=stderr)
    client.log = log
    yield client
    if not client._pipes.exited.done():
        await client.close()


def request(msg_id, method: str, params=None) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()


def send(client: LspClient, data: bytes, *msg_ids) -> list[asyncio.Future]:
    """Write ``data`` and return a future for the response to each of ``msg_ids``."""
    futures = [asyncio.get_running_loop().create_future() for _ in msg_ids]
    client._pending.update(zip(msg_ids, futures, strict=True))  # before writing: answers come fast
    client.write_raw(data)
    return futures


async def answer(future: asyncio.Future, timeout: float = ANSWER_S) -> dict:
    """A response as the server wrote it on its stdout: its result, or its error code."""
    outcome, _ = await asyncio.wait_for(future, timeout)
    return {"error": outcome.code} if isinstance(outcome, LspError) else {"result": outcome}


async def still_answers(client: LspClient) -> None:
    stats = await client.request("aicockpit/stats", None, timeout=ANSWER_S)
    assert "engine" in stats


async def test_the_bare_lf_header_of_issue_14_no_longer_wedges_the_reader(server):
    body = request("lf", "aicockpit/stats")
    bare_lf = b"Content-Length: %d\n\n" % len(body) + body  # accepted: see framing.py
    lf, after = send(server, bare_lf + frame(request("next", "aicockpit/stats")), "lf", "next")
    assert "result" in await answer(lf)
    assert "result" in await answer(after)


HOSTILE_FRAMING = {
    "garbage bytes": bytes(range(256)),
    "a body without a header": request("x", "aicockpit/stats"),
    "a header without Content-Length": b"Content-Type: a/b\r\n\r\n" + request("x", "aicockpit/stats"),
    "a truncated body": b"Content-Length: 4000\r\n\r\n" + request("x", "aicockpit/stats")[:-7],
    "a huge Content-Length": b"Content-Length: 99999999999999\r\n\r\n{}",
    "a body that is not JSON": b"Content-Length: 7\r\n\r\n{nope}}",
    "two different lengths": b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "lowercase, extra headers": b"content-type: x\r\ncontent-length: 2\r\n\r\n{}",
}


@pytest.mark.parametrize("name", list(HOSTILE_FRAMING))
async def test_after_bad_framing_the_next_well_formed_request_is_answered(server, name):
    server.write_raw(HOSTILE_FRAMING[name])
    (after,) = send(server, frame(request(f"after {name}", "aicockpit/stats")), f"after {name}")
    assert "result" in await answer(after)


@pytest.mark.parametrize("method", ["initialized", "textDocument/didOpen", "exit", "$/cancelRequest"])
async def test_a_notification_sent_with_an_id_gets_one_error_and_is_not_run(server, method):
    uri = f"file:///tmp/with-id-{method.replace('/', '-')}.py"
    params = {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}, "id": 1}
    (sent,) = send(server, frame(request(f"id {method}", method, params)), f"id {method}")
    assert (await answer(sent))["error"] == -32601  # MethodNotFound: no request of that name
    await still_answers(server)  # ``exit`` with an id did not end the server
    position = {"line": 0, "character": 0}
    context = await server.request("aicockpit/context", {"textDocument": {"uri": uri}, "position": position})
    assert "not an open document" in context["error"]  # didOpen with an id did not open it
    # A window, not a wait for an event: nothing more may come, and nothing says that nothing
    # came. A second answer (the method run as well) would come from its handler's task.
    await asyncio.sleep(0.2)
    assert server.answers[f"id {method}"] == 1


async def test_a_request_sent_without_an_id_is_not_run(server):
    dropped = "dropped 'shutdown': a request sent without an id"
    before = server.log.read_text(errors="replace").count(dropped)
    server.write_raw(frame(json.dumps({"jsonrpc": "2.0", "method": "shutdown"}).encode()))

    def logged() -> bool:
        return server.log.read_text(errors="replace").count(dropped) > before

    # The server says it dropped it. (pygls alone ran it as a notification, and its engine
    # stop took a moment: a server that ran it would fail below.)
    await wait_until(logged, ANSWER_S, "the dropped request in the log")
    stats = await server.request("aicockpit/stats", None, timeout=ANSWER_S)  # not shutting down: no error
    assert stats["engine"]["state"] == "ready"


@pytest.mark.parametrize(
    "params",
    [
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": -1, "character": "x"}},
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 1}},
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": 0}, "context": {}},
        42,
        [1, 2],
    ],
)
async def test_params_of_the_wrong_type_get_an_error_answer(server, params):
    msg_id = f"bad params {json.dumps(params)}"
    (sent,) = send(server, frame(request(msg_id, "textDocument/inlineCompletion", params)), msg_id)
    assert (await answer(sent))["error"] == -32602  # InvalidParams


async def test_ids_of_every_valid_kind_are_answered_and_invalid_ones_dropped(server):
    for msg_id in (0, -5, 2**53, "", "é🍵"):
        (sent,) = send(server, frame(request(msg_id, "aicockpit/stats")), msg_id)
        assert "result" in await answer(sent)
    for msg_id in (1.5, None, True, {"a": 1}):
        server.write_raw(frame(request(msg_id, "aicockpit/stats")))
    await still_answers(server)


async def test_client_errors_are_one_warning_line_each_without_tracebacks(server):
    """Runs after the tests above: the log holds all their bad input."""
    await still_answers(server)
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text, text[text.index("Traceback") - 500 :][:3000]
    warnings = [line for line in text.splitlines() if " WARNING " in line]
    assert any("dropped" in line and "Content-Length" in line for line in warnings), warnings
    assert any("is a notification" in line for line in warnings), warnings
    assert not [line for line in text.splitlines() if " ERROR " in line]


async def test_requests_after_shutdown_get_an_error_and_exit_ends_with_code_0(server):
    await server.request("shutdown", None, timeout=ANSWER_S)
    (late,) = send(server, frame(request("late", "aicockpit/stats")), "late")
    assert (await answer(late))["error"] == -32600  # InvalidRequest: shutting down
    server.notify("exit", None)
    await asyncio.wait_for(asyncio.shield(server._pipes.exited), ANSWER_S)
    assert server._transport.get_returncode() == 0


def test_a_file_as_stdin_is_read_with_the_same_framing(tmp_path):
    """Not a pipe: a thread reads it into the same reader (pygls's own reader took only CRLF headers)."""
    initialize = request(1, "initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    again = request(2, "initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    stdin = tmp_path / "input"
    stdin.write_bytes(
        b"Content-Length: %d\n\n" % len(initialize) + initialize + b"\x00garbage" + frame(again)
    )
    with stdin.open("rb") as source:
        done = subprocess.run(SERVE_STUB, stdin=source, capture_output=True, timeout=60, env=server_env())
    answers = {m["id"]: m for m in MessageReader().feed(done.stdout) if "id" in m}
    assert "capabilities" in answers[1]["result"]
    assert answers[2]["error"]["code"] == -32600  # initialize comes once
    assert done.returncode == 1  # the end of input, without shutdown
