"""RobustProtocol: one answer per request, the client's errors as one warning line, bugs with a traceback."""

from __future__ import annotations

import asyncio
import json
import logging

import msgspec
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from aicockpit.protocol import RECEIVED_AT, RobustProtocol, TypedMessage


class Writer:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    def write(self, data: bytes) -> None:
        self.messages.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    def close(self) -> None:
        pass


def make_server() -> tuple[LanguageServer, Writer]:
    server = LanguageServer("test", "1", protocol_cls=RobustProtocol)
    writer = Writer()
    server.protocol.set_writer(writer)

    @server.feature("test/bug")
    async def bug(params):
        raise RuntimeError("a server bug")

    @server.feature("test/client")
    async def client_error(params):
        raise JsonRpcInvalidParams("the position is not in the document")

    @server.feature("test/echo")
    def echo(params):
        return {"echo": params.value}

    return server, writer


def answers(writer: Writer, msg_id) -> list[dict]:
    return [m for m in writer.messages if m.get("id") == msg_id and "method" not in m]


async def test_a_handler_error_on_purpose_is_one_warning_and_a_bug_keeps_its_traceback(caplog):
    server, writer = make_server()
    caplog.set_level(logging.INFO)
    server.protocol.receive({"jsonrpc": "2.0", "id": 1, "method": "test/client", "params": {}})
    server.protocol.receive({"jsonrpc": "2.0", "id": 2, "method": "test/bug", "params": {}})
    await asyncio.sleep(0.05)
    assert [a["error"]["code"] for a in answers(writer, 1)] == [-32602]
    assert [a["error"]["code"] for a in answers(writer, 2)] == [-32603]
    client = [
        r for r in caplog.records if "not in the document" in r.getMessage() and r.levelno >= logging.WARNING
    ]
    assert [(r.levelno, r.exc_info) for r in client] == [(logging.WARNING, None)]
    bugs = [r for r in caplog.records if r.exc_info and "a server bug" in str(r.exc_info[1])]
    assert bugs and all(r.levelno == logging.ERROR for r in bugs)


async def test_params_that_do_not_fit_are_answered_without_a_traceback(caplog):
    server, writer = make_server()
    caplog.set_level(logging.INFO)
    params = {"textDocument": {"uri": "file:///a"}, "position": {"line": "one"}}
    server.protocol.receive(
        {"jsonrpc": "2.0", "id": 3, "method": "textDocument/inlineCompletion", "params": params}
    )
    server.protocol.receive(
        {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": 1}}
    )
    (answer,) = answers(writer, 3)
    assert answer["error"]["code"] == -32602 and "$.params.position" in answer["error"]["message"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


class Where(msgspec.Struct, rename="camel"):
    text_document: dict
    line_number: int


async def test_typed_params_reach_the_handler_as_a_struct_with_the_read_time(caplog):
    """The keystroke's messages skip pygls's converter: msgspec decodes them (typed_params)."""
    server, writer = make_server()
    caplog.set_level(logging.INFO)
    seen = []
    server.protocol.typed_params["test/where"] = TypedMessage[Where]
    server.protocol.typed_params["textDocument/didSave"] = TypedMessage[Where]

    @server.feature("test/where")
    async def where(params: Where):
        seen.append((params, RECEIVED_AT.get()))
        return {"line": params.line_number}

    @server.feature("textDocument/didSave")
    def noted(params: Where):
        seen.append((params, RECEIVED_AT.get()))

    params = {"textDocument": {"uri": "file:///a"}, "lineNumber": 7}
    server.protocol.receive({"jsonrpc": "2.0", "id": 1, "method": "test/where", "params": params}, 12.5)
    server.protocol.receive({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": params}, 13.5)
    bad = {"textDocument": {}, "lineNumber": "seven"}
    server.protocol.receive({"jsonrpc": "2.0", "id": 2, "method": "test/where", "params": bad})
    server.protocol.receive({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": bad})
    await asyncio.sleep(0.05)
    # (The notification's handler runs at once; the request's in a task.)
    assert sorted(seen, key=lambda s: s[1]) == [
        (Where({"uri": "file:///a"}, 7), 12.5),
        (Where({"uri": "file:///a"}, 7), 13.5),
    ]
    assert [a["result"] for a in answers(writer, 1)] == [{"line": 7}]
    (error,) = answers(writer, 2)
    assert error["error"]["code"] == -32602 and "$.params.lineNumber" in error["error"]["message"]
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1 and "$.params.lineNumber" in dropped[0], dropped
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_notifications_with_ids_and_cancels_of_anything_are_answered_or_ignored_quietly(caplog):
    server, writer = make_server()
    caplog.set_level(logging.INFO)
    server.protocol.receive({"jsonrpc": "2.0", "id": 4, "method": "initialized", "params": {}})
    for target in (10**9, "gone", {"x": 1}, [1], None):
        server.protocol.receive({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": target}})
    server.protocol.receive({"jsonrpc": "2.0", "id": 5, "method": "test/echo", "params": {"value": 1}})
    await asyncio.sleep(0.05)
    assert [a["error"]["code"] for a in answers(writer, 4)] == [-32601]
    assert [a["result"] for a in answers(writer, 5)] == [{"echo": 1}]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_an_async_handlers_answer_goes_out_before_work_it_queued():
    # pygls answered from the task's done callback, a loop turn later: behind whatever the
    # handler had queued (a completion's stream wind-down), on every keystroke's answer.
    server, writer = make_server()

    @server.feature("test/queues")
    async def queues(params):
        asyncio.get_running_loop().call_soon(writer.messages.append, {"queued": True})
        return {"done": True}

    server.protocol.receive({"jsonrpc": "2.0", "id": 6, "method": "test/queues", "params": {}})
    await asyncio.sleep(0.05)
    assert writer.messages == [{"jsonrpc": "2.0", "id": 6, "result": {"done": True}}, {"queued": True}]


async def test_cancelled_async_requests_are_answered_and_notifications_leave_no_futures():
    server, writer = make_server()
    started = asyncio.Event()

    @server.feature("test/slow")
    async def slow(params):
        started.set()
        await asyncio.sleep(10)

    @server.feature("workspace/didChangeWatchedFiles")
    async def note(params):
        return None

    server.protocol.receive({"jsonrpc": "2.0", "id": 7, "method": "test/slow", "params": {}})
    for _ in range(3):
        server.protocol.receive(
            {"jsonrpc": "2.0", "method": "workspace/didChangeWatchedFiles", "params": {"changes": []}}
        )
    await started.wait()
    server.protocol.receive({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 7}})
    await asyncio.sleep(0.05)
    assert [a["error"]["code"] for a in answers(writer, 7)] == [-32800]
    assert server.protocol.requests_in_flight() == 0


async def test_shutdown_is_answered_after_the_requests_it_cancelled():
    # The client sends exit as soon as shutdown is answered, and exit ends the process:
    # a cancelled request must have said so by then.
    server, writer = make_server()
    started = asyncio.Event()

    @server.feature("test/slow")
    async def slow(params):
        started.set()
        await asyncio.sleep(10)

    server.protocol.receive({"jsonrpc": "2.0", "id": 8, "method": "test/slow", "params": {}})
    await started.wait()
    server.protocol.receive({"jsonrpc": "2.0", "id": 9, "method": "shutdown"})
    await asyncio.sleep(0.05)
    assert [(m["id"], "error" in m) for m in writer.messages] == [(8, True), (9, False)]
    assert writer.messages[0]["error"]["code"] == -32800
