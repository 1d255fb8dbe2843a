"""Params of aicockpit's own requests and command arguments, decoded one way: into msgspec Structs.

pygls hands over the params of a method it has no type for as named tuples (or
lists and plain values), and command arguments as a tuple. ``decode`` makes them
plain values and converts them into the request's Struct; anything that does not
fit is an ``InvalidParams`` error naming the field (``... - at `$.position.line```),
answered to the client like any bad params.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, TypeVar

import msgspec
from pygls.exceptions import JsonRpcInvalidParams

log = logging.getLogger(__name__)
T = TypeVar("T")

# LSP positions are uintegers; beyond 2**31 they only serve to make the server work hard.
LspInt = Annotated[int, msgspec.Meta(ge=0, lt=2**31)]


class PositionArg(msgspec.Struct):
    line: LspInt
    character: LspInt


class RangeArg(msgspec.Struct):
    start: PositionArg
    end: PositionArg


class DocumentArg(msgspec.Struct):
    uri: str


def decode(params: Any, kind: type[T], what: str = "params") -> T:
    """``params`` as a ``kind``; no params at all (None) count as an empty object.

    Params given by position in a one-element array are that element:
    vscode-jsonrpc sends ``sendRequest(method, null)`` as ``[null]``.
    """
    value = plain(params)
    if isinstance(value, list) and len(value) <= 1:
        value = value[0] if value else None
    try:
        return msgspec.convert({} if value is None else value, kind)
    except msgspec.ValidationError as err:
        raise JsonRpcInvalidParams(message=f"invalid {what}: {err}") from None


def decode_notification(params: Any, kind: type[T], method: str) -> T | None:
    """A notification's params as a ``kind``, or None: bad params are logged, as there is no
    answer to carry the error."""
    try:
        return decode(params, kind)
    except JsonRpcInvalidParams as err:
        log.warning("%s: %s", method, err.message)
        return None


def decode_args(args: tuple[Any, ...], kind: type[T]) -> T:
    """A command's arguments: exactly one, decoded as ``kind``."""
    if len(args) != 1:
        raise JsonRpcInvalidParams(message=f"invalid arguments: expected one argument, got {len(args)}")
    return decode(args[0], kind, "arguments")


def plain(value: Any) -> Any:
    """Named tuples (how pygls hands over untyped params) to dicts, recursively."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
