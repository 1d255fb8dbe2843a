"""Params of aicockpit's own requests and command arguments, decoded one way: into msgspec Structs.

pygls hands over the params of a method it has no type for as named tuples (or
lists and plain values), and command arguments as a tuple. ``decode`` makes them
plain values and converts them into the request's Struct; anything that does not
fit is an ``InvalidParams`` error naming the field (``... - at `$.position.line```),
answered to the client like any bad params.

The messages of a keystroke (didChange, inlineCompletion) and of the other document
notifications are typed here too, with the LSP's names (``rename="camel"``: the
attributes read as lsprotocol's do). The protocol decodes them straight into these
(``AicockpitServer.typed_feature``): pygls's converter builds lsprotocol's objects
through generated cattrs code, tens of microseconds per keystroke on a core gone
cold between keys.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, TypeVar

import msgspec
from lsprotocol import types
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


# -- the LSP's own messages that every keystroke brings ------------------------------


class TextDocumentItem(msgspec.Struct, rename="camel"):
    uri: str
    language_id: str
    version: int
    text: str


class VersionedDocumentArg(msgspec.Struct):
    uri: str
    version: int


class ContentChange(msgspec.Struct):
    """A range replaced by ``text``, or the whole text when there is no range."""

    text: str
    range: RangeArg | None = None


class DidOpenParams(msgspec.Struct, rename="camel"):
    text_document: TextDocumentItem


class DidChangeParams(msgspec.Struct, rename="camel"):
    text_document: VersionedDocumentArg
    content_changes: list[ContentChange]


class DidCloseParams(msgspec.Struct, rename="camel"):
    text_document: DocumentArg


class InlineCompletionContextArg(msgspec.Struct, rename="camel"):
    trigger_kind: types.InlineCompletionTriggerKind  # selectedCompletionInfo is not used


class InlineCompletionArgs(msgspec.Struct, rename="camel"):
    text_document: DocumentArg
    position: PositionArg
    context: InlineCompletionContextArg
    work_done_token: int | str | None = None


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
