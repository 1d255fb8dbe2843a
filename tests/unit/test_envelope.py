"""The JSON-RPC envelope: each message classified once, with the id to answer when it has a valid one."""

from __future__ import annotations

import pytest

from aicockpit.envelope import NOTIFICATION, REQUEST, RESPONSE, check_envelope
from aicockpit.features.next_edit import FEEDBACK


def registered(method: str) -> bool:
    return method.startswith("aicockpit/")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "textDocument/inlineCompletion", "params": {}}, REQUEST),
        ({"jsonrpc": "2.0", "id": "a", "method": "aicockpit/stats"}, REQUEST),
        (
            {"jsonrpc": "2.0", "id": 2, "method": "nobody/knows", "params": None},
            REQUEST,
        ),  # MethodNotFound later
        ({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {}}, NOTIFICATION),
        ({"jsonrpc": "2.0", "method": "$/unknown"}, NOTIFICATION),  # ignored later
        ({"jsonrpc": "2.0", "method": FEEDBACK, "params": {"id": "ne-1", "accepted": True}}, NOTIFICATION),
        ({"jsonrpc": "2.0", "id": 3, "result": None}, RESPONSE),
        ({"jsonrpc": "2.0", "id": 3, "error": {"code": 1, "message": "no"}}, RESPONSE),
    ],
)
def test_sound_messages_are_classified(message, kind):
    verdict = check_envelope(message, registered)
    assert (verdict.kind, verdict.problem) == (kind, "")


@pytest.mark.parametrize(
    ("message", "answer_id", "code"),
    [
        ({"jsonrpc": "2.0", "id": 7, "method": "initialized", "params": {}}, 7, -32601),
        ({"jsonrpc": "2.0", "id": "x", "method": "exit"}, "x", -32601),
        ({"jsonrpc": "2.0", "id": 8, "method": "textDocument/completion", "params": 42}, 8, -32602),
        ({"jsonrpc": "2.0", "id": 9, "method": 42}, 9, -32600),
        ({"id": 10, "method": "aicockpit/stats"}, 10, -32600),  # no jsonrpc
        ({"jsonrpc": "1.0", "id": 11, "method": "aicockpit/stats"}, 11, -32600),
    ],
)
def test_a_bad_request_with_a_valid_id_is_answered_with_an_error(message, answer_id, code):
    verdict = check_envelope(message, registered)
    assert verdict.problem and verdict.kind == ""
    assert (verdict.answer_id, verdict.code) == (answer_id, code)


@pytest.mark.parametrize(
    "message",
    [
        [{"jsonrpc": "2.0", "id": 1, "method": "aicockpit/stats"}],  # a batch: not LSP
        "hello",
        None,
        {"jsonrpc": "2.0", "id": 1.5, "method": "aicockpit/stats"},
        {"jsonrpc": "2.0", "id": True, "method": "aicockpit/stats"},
        {"jsonrpc": "2.0", "id": None, "method": "aicockpit/stats"},
        {"jsonrpc": "2.0", "method": "shutdown"},  # a request without an id: nothing could take its answer
        {"jsonrpc": "2.0", "method": "aicockpit/stats"},
        {"jsonrpc": "2.0", "id": 3},  # a response with neither result nor error
        {"jsonrpc": "1.0", "id": 3, "result": 1},  # responses are never answered
        {"jsonrpc": "2.0"},
    ],
)
def test_what_cannot_be_answered_is_dropped(message):
    verdict = check_envelope(message, registered)
    assert verdict.problem and verdict.kind == "" and verdict.answer_id is None


def test_a_problem_names_a_huge_value_in_a_short_line():
    verdict = check_envelope({"jsonrpc": "2.0", "id": 1, "method": "x" * 1_000_000, "params": 1}, registered)
    assert len(verdict.problem) < 200
