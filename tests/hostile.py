"""Hostile LSP traffic: what a broken or malicious client sends, and what the server owes for it.

Used by tests/e2e/test_adversarial.py (a short run) and scripts/adversarial.py (a
long one). Each item is the bytes to write and the ids the server must answer
exactly once (``owed``) or never (``dropped``: input it cannot read). Requests
get ids unique to the run, so answers can be counted per id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aicockpit.bench.client import LspClient, LspError
from tests.support import raw_session, scratch_workspace, serve_command, wait_engine_ready, wait_until

TEXT = "def total(items):\n    s = 0\n    for item in items:\n        s += item.price\n    return s\n"
METHODS = ["textDocument/inlineCompletion", "textDocument/completion", "aicockpit/stats", "aicockpit/context"]
NOTIFICATIONS = [
    "initialized", "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose", "exit",
    "$/cancelRequest", "$/setTrace", "workspace/didChangeConfiguration", "textDocument/didSave",
]  # fmt: skip


def frame(body: bytes, header: bytes = b"Content-Length: %d\r\n\r\n") -> bytes:
    return header % len(body) + body


def encode(message: Any) -> bytes:
    return json.dumps(message).encode()  # lone surrogates as JSON escapes: valid JSON, odd strings


FIRST_ID = 1_000_000  # hostile ids start here; the client's own requests count from 1
HEADER = re.compile(rb"content-length", re.IGNORECASE)


@dataclass
class Item:
    kind: str
    data: bytes
    owed: list[Any] = field(default_factory=list)
    dropped: list[Any] = field(default_factory=list)
    pause_s: float = 0.0  # after it: a typing burst's last completion gets time to generate


class Hostile:
    """Random hostile items, reproducible from the seed."""

    def __init__(self, seed: int, folder_uri: str) -> None:
        self.rng = random.Random(seed)
        self._ids = itertools.count(FIRST_ID + seed * 10_000_000)  # runs with other seeds never share an id
        self.uris = [f"{folder_uri}/hostile_{n}.py" for n in range(4)] + [
            "untitled:Untitled-1",
            "file:///nope",
        ]
        self.versions: Counter[str] = Counter()
        self.in_flight: list[Any] = []  # recent request ids, for cancellations
        self.issued: set[Any] = set()
        self.kinds = [
            (self.framing_garbage, 2), (self.lenient_framing, 2), (self.bad_params, 4),
            (self.unknown_method, 1), (self.notification_with_id, 2), (self.request_without_id, 1),
            (self.cancel, 2), (self.bad_id, 1), (self.document, 6), (self.change_flood, 3),
            (self.completion, 6), (self.not_json_rpc, 1), (self.lifecycle_again, 1),
        ]  # fmt: skip
        self._choices = [k for k, weight in self.kinds for _ in range(weight)]

    def next(self) -> Item:
        return self.rng.choice(self._choices)()

    def new_id(self) -> int | str:
        n = next(self._ids)
        msg_id = n if n % 2 else f"h{n}"
        self.issued.add(msg_id)
        return msg_id

    def request(self, method: str, params: Any) -> tuple[Any, bytes]:
        msg_id = self.new_id()
        self.in_flight = [*self.in_flight[-20:], msg_id]
        return msg_id, frame(encode({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))

    def position(self) -> dict[str, Any]:
        return {"line": self.rng.randint(0, 6), "character": self.rng.randint(0, 30)}

    def doc_params(self) -> dict[str, Any]:
        return {"textDocument": {"uri": self.rng.choice(self.uris)}, "position": self.position()}

    # -- kinds ----------------------------------------------------------------------------

    def framing_garbage(self) -> Item:
        """Input the server cannot read; a request inside it is never answered."""
        msg_id, good = self.request("aicockpit/stats", None)
        body = good[good.index(b"{") :]
        choices = [
            bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 300))),
            body,  # no header
            b"Content-Type: text/plain\r\n\r\n" + body,  # no length
            b"Content-Length: 99999999999\r\n\r\n" + body,  # over the limit
            b"Content-Length: %d\r\n\r\n" % (len(body) + 5000) + body[:-3],  # truncated
            b"Content-Length: %d\r\n\r\n" % (len(body) // 2) + body,  # too short
            b"Content-Length: %d\r\n\r\n" % len(body) + b"{" + body[1:-1] + b"!",  # not JSON
            b"Content-Length: x1\r\n\r\n" + body,
            b"Content-Length: %d\r\nbroken header line\r\n\r\n" % len(body) + body,
            frame(body.replace(b'"2.0"', b'"2.0\xff\xfe"')),  # not UTF-8
        ]
        return Item("framing garbage", self.rng.choice(choices), dropped=[msg_id])

    def lenient_framing(self) -> Item:
        """Framing the spec does not allow but the server reads: answered."""
        msg_id, good = self.request("aicockpit/stats", None)
        body = good[good.index(b"{") :]
        headers = [
            b"Content-Length: %d\n\n",
            b"content-length:%d\r\n\r\n",
            b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %d\r\n\r\n",
            b"\r\nContent-Length: %d\r\n\r\n",
        ]
        data = frame(body, self.rng.choice(headers))
        if self.rng.random() < 0.3:
            data = b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(body), len(body)) + body
        return Item("lenient framing", data, owed=[msg_id])

    def bad_params(self) -> Item:
        method = self.rng.choice(
            ["textDocument/inlineCompletion", "textDocument/completion", "aicockpit/chat"]
        )
        good = self.doc_params()
        variants = [
            {**good, "position": {"line": -1, "character": 0}},
            {**good, "position": {"line": 2**40, "character": 2**40}},
            {**good, "position": {"line": "two", "character": None}},
            {**good, "position": {"line": 1}},
            {"textDocument": {"uri": 5}, "position": self.position()},
            {**good, "context": {"triggerKind": 99}},
            {**good, "nested": {"jsonrpc": "2.0", "id": 3, "method": "exit"}},
            {"textDocument": {"uri": "file:///" + "a" * 100_000}, "position": self.position()},
            {"textDocument": {"uri": "file:///\ud800bad"}, "position": self.position()},
            [1, 2, 3],
            42,
            "params",
            {"message": ["not", "a", "string"]},
            {},
        ]
        msg_id, data = self.request(method, self.rng.choice(variants))
        return Item("bad params", data, owed=[msg_id])

    def unknown_method(self) -> Item:
        method = self.rng.choice(
            ["nope/nope", "textDocument/hover", "$/unknown", "workspace/configuration", ""]
        )
        if self.rng.random() < 0.5:
            return Item("unknown notification", frame(encode({"jsonrpc": "2.0", "method": method})))
        msg_id, data = self.request(method, {})
        return Item("unknown method", data, owed=[msg_id])

    def notification_with_id(self) -> Item:
        method = self.rng.choice(NOTIFICATIONS)
        params = {"id": 1} if method == "$/cancelRequest" else {"textDocument": {"uri": self.uris[0]}}
        msg_id, data = self.request(method, params)
        return Item("notification with an id", data, owed=[msg_id])

    def request_without_id(self) -> Item:
        method = self.rng.choice(["shutdown", "initialize", *METHODS])
        return Item(
            "request without an id", frame(encode({"jsonrpc": "2.0", "method": method, "params": {}}))
        )

    def cancel(self) -> Item:
        target = self.rng.choice([*self.in_flight[-5:], 10**9, "nobody", {"x": 1}, None])
        return Item(
            "cancel", frame(encode({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": target}}))
        )

    def bad_id(self) -> Item:
        msg_id = self.rng.choice([1.5, True, None, {"a": 1}, [7]])
        data = frame(encode({"jsonrpc": "2.0", "id": msg_id, "method": "aicockpit/stats"}))
        return Item("invalid id", data)

    def not_json_rpc(self) -> Item:
        msg_id = self.new_id()
        messages = [
            ({"id": msg_id, "method": "aicockpit/stats"}, True),  # no jsonrpc
            ({"jsonrpc": "1.0", "id": msg_id, "method": "aicockpit/stats"}, True),
            ({"jsonrpc": "2.0", "id": msg_id, "method": 42}, True),
            ([{"jsonrpc": "2.0", "id": msg_id, "method": "aicockpit/stats"}], False),  # a batch: not LSP
            ({"jsonrpc": "2.0", "id": msg_id}, False),  # a response to nothing
            ("hello", False),
            (None, False),
        ]
        message, answered = self.rng.choice(messages)
        data = frame(encode(message))
        return Item(
            "not JSON-RPC", data, owed=[msg_id] if answered else [], dropped=[] if answered else [msg_id]
        )

    def lifecycle_again(self) -> Item:
        """initialize (a request: answered with an error) or initialized (ignored) once more."""
        if self.rng.random() < 0.5:
            return Item(
                "initialized again", frame(encode({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
            )
        msg_id, data = self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        return Item("initialize again", data, owed=[msg_id])

    def document(self) -> Item:
        """Open, change and close in any order, with any positions and versions."""
        uri = self.rng.choice(self.uris)
        action = self.rng.choice(["open", "change", "change", "close", "save"])
        self.versions[uri] += self.rng.choice([1, 1, 1, -3, 0])
        version = self.versions[uri]
        if action == "open":
            text = self.rng.choice(
                [TEXT, "", "\ud83c\udf75 é\n" * 50, "x" * 20_000, "lone \ud800 surrogate\n"]
            )
            params = {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}}
        elif action == "change":
            start = self.position()
            end = self.rng.choice([start, self.position(), {"line": 10**6, "character": 0}])
            change = {"range": {"start": start, "end": end}, "text": self.rng.choice(["x", "\n", "", "é🍵"])}
            if self.rng.random() < 0.1:
                change = {"text": TEXT}
            params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
        else:
            params = {"textDocument": {"uri": uri}}
        method = {"open": "didOpen", "change": "didChange", "close": "didClose", "save": "didSave"}[action]
        return Item(
            f"document {action}",
            frame(encode({"jsonrpc": "2.0", "method": f"textDocument/{method}", "params": params})),
        )

    def change_flood(self) -> Item:
        """A burst of typing in an open document: a change and a completion request per keystroke,
        the superseded ones mostly cancelled, the last one left to generate."""
        uri, data, owed = self.uris[0], b"", []
        self.versions[uri] += 1
        document = {"uri": uri, "languageId": "python", "version": self.versions[uri], "text": TEXT}
        data += frame(
            encode({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}})
        )
        keys = self.rng.randint(5, 20)
        for column in range(12, 12 + keys):  # typing at the end of "    return s"
            self.versions[uri] += 1
            at = {"line": 4, "character": column}
            change = {"range": {"start": at, "end": at}, "text": self.rng.choice("abc_ .(")}
            params = {"textDocument": {"uri": uri, "version": self.versions[uri]}, "contentChanges": [change]}
            data += frame(encode({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": params}))
            cursor = {"line": 4, "character": column + 1}
            params = {"textDocument": {"uri": uri}, "position": cursor, "context": {"triggerKind": 2}}
            msg_id, request = self.request("textDocument/inlineCompletion", params)
            data += request
            owed.append(msg_id)
            if column < 11 + keys and self.rng.random() < 0.7:
                data += frame(
                    encode({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": msg_id}})
                )
        return Item("change flood", data, owed=owed, pause_s=0.05)

    def completion(self) -> Item:
        method = self.rng.choice(
            ["textDocument/inlineCompletion", "textDocument/completion", "aicockpit/context"]
        )
        msg_id, data = self.request(method, self.completion_params(self.rng.choice(self.uris)))
        return Item("completion", data, owed=[msg_id])

    def completion_params(self, uri: str) -> dict[str, Any]:
        return {
            "textDocument": {"uri": uri},
            "position": self.position(),
            "context": {"triggerKind": self.rng.choice([1, 2])},
        }


@dataclass
class Report:
    sent: dict[str, int]
    messages: int  # headers written, framing garbage included
    owed: int
    answered_once: int
    results: int
    errors: dict[int, int]  # error code: answers
    suggestions: int  # completion answers that carried a suggestion
    engine: dict[str, Any]  # the server's own counts: completion outcomes, engine requests, tokens
    missing: list[Any]
    duplicated: list[Any]
    dropped_but_answered: list[Any]
    unexpected: list[Any]
    final_answer_s: float
    seconds: float

    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.dropped_but_answered or self.unexpected)


async def hostile_run(
    client: LspClient,
    count: int,
    seed: int,
    folder_uri: str,
    settle_s: float = 20,
    final_request: bool = True,
) -> Report:
    """Send ``count`` hostile items, then (``final_request``) a normal one; wait for every answer owed."""
    started = time.perf_counter()
    hostile = Hostile(seed, folder_uri)
    owed: set[Any] = set()
    dropped: set[Any] = set()
    sent: Counter[str] = Counter()
    messages = 0
    pipe = client._transport.get_pipe_transport(0)
    loop = asyncio.get_running_loop()
    outcomes: dict[Any, asyncio.Future] = {}
    for n in range(count):
        item = hostile.next()
        for msg_id in item.owed:  # the client resolves these as answers arrive
            outcomes[msg_id] = client._pending[msg_id] = loop.create_future()
        client.write_raw(item.data)
        owed.update(item.owed)
        dropped.update(item.dropped)
        sent[item.kind] += 1
        messages += len(HEADER.findall(item.data)) or 1
        if item.pause_s or n % 20 == 0 or pipe.get_write_buffer_size() > 1 << 20:
            # The sender's pace (the scenario, not a wait): answers come in, the write buffer stays bounded.
            await asyncio.sleep(item.pause_s or 0.01)
    # The wedge check: a plain request after all of it, answered promptly.
    asked = time.perf_counter()
    stats = await client.request("aicockpit/stats", None, timeout=settle_s) if final_request else {}
    final_answer_s = time.perf_counter() - asked
    with contextlib.suppress(AssertionError):  # what never came is in the report (missing)
        await wait_until(lambda: all(client.answers[i] for i in owed), settle_s, "every answer owed")
    answers = client.answers
    done = [f.result()[0] for f in outcomes.values() if f.done()]
    errors = Counter(outcome.code for outcome in done if isinstance(outcome, LspError))
    return Report(
        sent=dict(sent),
        messages=messages,
        owed=len(owed),
        answered_once=sum(1 for i in owed if answers[i] == 1),
        results=len(done) - sum(errors.values()),
        errors=dict(errors),
        suggestions=sum(1 for outcome in done if _suggests(outcome)),
        engine={
            k: stats.get(k) for k in ("outcomes", "engine_requests", "generated_tokens", "wasted_tokens")
        },
        missing=[i for i in owed if answers[i] == 0],
        duplicated=[i for i in owed if answers[i] > 1],
        dropped_but_answered=[i for i in dropped if answers[i]],
        unexpected=[i for i in hostile.issued if answers[i] and i not in owed and i not in dropped],
        final_answer_s=final_answer_s,
        seconds=time.perf_counter() - started,
    )


async def adversarial_session(
    count: int, seed: int, log_path: Path, wait_ready: bool = True, after_shutdown: int = 200
) -> dict[str, Any]:
    """A real ``aicockpit serve``: hostile traffic, then ``shutdown``, more of it, and ``exit``."""
    workspace = scratch_workspace()
    with log_path.open("wb") as log:
        client = await raw_session(serve_command("--log-level", "info"), workspace, stderr=log)
    try:
        if wait_ready:
            await wait_engine_ready(client)
        report = await hostile_run(client, count, seed, workspace.as_uri())
        await client.request("shutdown", None, timeout=30)
        late = await hostile_run(client, after_shutdown, seed + 1, workspace.as_uri(), final_request=False)
        asked = time.perf_counter()
        client.notify("exit", None)
        await asyncio.wait_for(asyncio.shield(client._pipes.exited), 30)
        exit_s = time.perf_counter() - asked
    finally:
        if not client._pipes.exited.done():
            client._transport.kill()
        client._transport.close()
    text = log_path.read_text(errors="replace")
    return {
        "report": report,
        "after_shutdown": late,
        "exit_s": exit_s,
        "returncode": client._transport.get_returncode(),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "log_lines": text.count("\n"),
        "warnings": text.count(" WARNING "),
        "errors": text.count(" ERROR "),
    }


def _suggests(result: Any) -> bool:
    items = result.get("items") if isinstance(result, dict) else None
    return bool(items) and any(item.get("insertText") or item.get("textEdit") for item in items)
