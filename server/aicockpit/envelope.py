"""The JSON-RPC envelope of a client message, checked before pygls sees it.

pygls trusts the envelope: a message without ``jsonrpc`` passes for a nested
object, a method or id of the wrong type fails deep inside it, a notification
method sent with an id (``initialized`` with ``"id": 7``) is run and never
answered, and a request method sent without an id is run with nobody to take
its answer. Here each message is classified once, as a request, a
notification, a response, or a problem; a problem carries the id to answer
when the message has a valid one. Like vscode-jsonrpc, a notification method
sent with an id is answered MethodNotFound and not run: there is no request of
that name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import attrs
from lsprotocol import types

REQUEST, NOTIFICATION, RESPONSE = "request", "notification", "response"
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
# The spec's notification classes have no id field; its request classes do.
NOTIFICATION_METHODS = frozenset(
    method for method, (cls, *_) in types.METHOD_TO_TYPES.items() if "id" not in attrs.fields_dict(cls)
)
REQUEST_METHODS = frozenset(types.METHOD_TO_TYPES) - NOTIFICATION_METHODS
# aicockpit's own notifications (and the Copilot next-edit clients' two: copilot_inline_edit.py);
# its other methods are requests.
OWN_NOTIFICATIONS = frozenset(
    {
        "aicockpit/nextEdit/feedback",
        "aicockpit/didFocus",
        "textDocument/didShowInlineEdit",
        "textDocument/didFocus",
    }
)


@dataclass(frozen=True)
class Verdict:
    kind: str = ""  # REQUEST, NOTIFICATION or RESPONSE when the envelope is sound
    problem: str = ""  # else what is wrong, for one warning line
    answer_id: int | str | None = None  # the valid id to answer the problem to, if any
    code: int = INVALID_REQUEST


def short(value: Any) -> str:
    """A client's value in a log line: its repr, cut (a method name may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def valid_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def method_kind(method: str, registered: bool) -> str | None:
    """REQUEST or NOTIFICATION by the spec (or aicockpit's own list), None when unknown."""
    if method in NOTIFICATION_METHODS or method in OWN_NOTIFICATIONS:
        return NOTIFICATION
    if method in REQUEST_METHODS or registered:
        return REQUEST
    return None


def check_envelope(data: Any, registered: Callable[[str], bool]) -> Verdict:
    """Classify one decoded message; ``registered(method)`` says whether the server handles it."""
    if not isinstance(data, dict):
        return Verdict(problem=f"dropped a message that is a JSON {type(data).__name__}, not an object")
    has_id, msg_id = "id" in data, data.get("id")
    if has_id and not valid_id(msg_id):
        return Verdict(problem=f"dropped a message with id {short(msg_id)}: an id is an integer or a string")
    answer = msg_id if has_id and "method" in data else None  # responses are never answered
    if data.get("jsonrpc") != "2.0":
        return Verdict(
            problem=f"not a JSON-RPC 2.0 message (jsonrpc {short(data.get('jsonrpc'))})", answer_id=answer
        )
    if "method" not in data:
        if not has_id:
            return Verdict(problem="dropped a message with neither a method nor an id")
        if ("result" in data) == ("error" in data):
            return Verdict(problem=f"dropped a response to {short(msg_id)}: it needs a result or an error")
        return Verdict(kind=RESPONSE)
    method = data["method"]
    if not isinstance(method, str):
        return Verdict(problem=f"a message whose method {short(method)} is not a string", answer_id=answer)
    params = data.get("params")
    if params is not None and not isinstance(params, dict | list):
        problem = (
            f"{short(method)} params are a JSON {type(params).__name__}: params are an object or an array"
        )
        return Verdict(problem=problem, answer_id=answer, code=INVALID_PARAMS)
    kind = method_kind(method, registered(method))
    if has_id:
        if kind is NOTIFICATION:
            problem = f"{short(method)} is a notification: sent with id {short(msg_id)}, it is not run"
            return Verdict(problem=problem, answer_id=msg_id, code=METHOD_NOT_FOUND)
        return Verdict(kind=REQUEST)
    if kind is REQUEST:
        return Verdict(
            problem=f"dropped {short(method)}: a request sent without an id, nothing could take its answer"
        )
    return Verdict(kind=NOTIFICATION)
