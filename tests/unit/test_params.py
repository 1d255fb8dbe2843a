"""Custom request params are decoded one way: typed Structs, and InvalidParams naming the bad field."""

from __future__ import annotations

from collections import namedtuple

import msgspec
import pytest
from pygls.exceptions import JsonRpcInvalidParams

from aicockpit.features.index import ContextArgs
from aicockpit.features.inline_completion import AcceptedArgs
from aicockpit.features.params import DocumentArg, decode, decode_args, decode_notification
from aicockpit.features.profiles import switch_arguments
from aicockpit.features.stats import StatsArgs


def as_pygls_hands_them_over(value):
    """pygls turns the dicts of untyped params into named tuples."""
    if isinstance(value, dict):
        kind = namedtuple("Object", list(value))
        return kind(**{k: as_pygls_hands_them_over(v) for k, v in value.items()})
    if isinstance(value, list):
        return [as_pygls_hands_them_over(v) for v in value]
    return value


def test_named_tuples_decode_into_the_struct():
    params = as_pygls_hands_them_over(
        {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 3, "character": 4}}
    )
    args = decode(params, ContextArgs)
    assert (args.text_document.uri, args.position.line, args.position.character) == ("file:///a.py", 3, 4)


@pytest.mark.parametrize(
    "params, field",
    [
        (
            {"textDocument": {"uri": "file:///a.py"}, "position": {"line": "3", "character": 4}},
            "$.position.line",
        ),
        (
            {"textDocument": {"uri": "file:///a.py"}, "position": {"line": -1, "character": 4}},
            "$.position.line",
        ),
        ({"textDocument": {"uri": 5}, "position": {"line": 1, "character": 4}}, "$.textDocument.uri"),
        ({"textDocument": {"uri": "file:///a.py"}}, "position"),
        (42, "object"),
    ],
)
def test_a_bad_field_is_invalid_params_naming_it(params, field):
    with pytest.raises(JsonRpcInvalidParams) as err:
        decode(as_pygls_hands_them_over(params), ContextArgs)
    assert err.value.code == -32602 and field in err.value.message


@pytest.mark.parametrize("params", [[None], [], [{"traces_since": 4}]])
def test_params_by_position_are_their_one_element(params):
    """vscode-jsonrpc sends ``sendRequest(method, null)`` as ``[null]``."""
    expected = 4 if params and params[0] else None
    assert decode(as_pygls_hands_them_over(params), StatsArgs).traces_since == expected


def test_no_params_means_the_defaults():
    assert decode(None, StatsArgs).traces_since is None
    with pytest.raises(JsonRpcInvalidParams, match="traces_since"):
        decode({"traces_since": True}, StatsArgs)


def test_command_arguments_are_one_object():
    good = {"uri": "file:///a.py", "line": 1, "character": 2, "text": "x"}
    assert decode_args((good,), AcceptedArgs).text == "x"
    with pytest.raises(JsonRpcInvalidParams, match="one argument"):
        decode_args((good, good), AcceptedArgs)
    with pytest.raises(JsonRpcInvalidParams, match=r"\$\.uri"):
        decode_args(({**good, "uri": 3},), AcceptedArgs)
    with pytest.raises(JsonRpcInvalidParams, match=r"\$\.line"):
        decode_args(({**good, "line": 2**40},), AcceptedArgs)


def test_switch_profile_takes_both_spellings():
    assert msgspec.structs.astuple(switch_arguments(("chat", "big"))) == ("chat", "big")
    assert msgspec.structs.astuple(switch_arguments(({"role": "chat", "profile": "big"},))) == ("chat", "big")
    with pytest.raises(JsonRpcInvalidParams, match="role"):
        switch_arguments(({"role": "", "profile": "big"},))


def test_a_notification_with_bad_params_is_logged_and_dropped(caplog):
    assert decode_notification({"uri": "file:///a.py"}, DocumentArg, "x/y").uri == "file:///a.py"
    assert decode_notification({"uri": 3}, DocumentArg, "x/y") is None
    assert "x/y: invalid params" in caplog.text and "$.uri" in caplog.text
