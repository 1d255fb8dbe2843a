"""pygls's LSP protocol, hardened: every request gets an answer.

pygls 2.1.1 drops requests whose params fail type conversion (no response at
all) and ignores requests after ``shutdown``; the spec wants an error response
for each. It runs commands where ``$/cancelRequest`` cannot reach them. It also
keeps its own copy of every document; aicockpit keeps one
(context/documents.py), so document notifications go straight to its handlers.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import (
    FeatureNotificationError,
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcMethodNotFound,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCProtocol
from pygls.protocol.language_server import _prepare_command_arguments, lsp_method

log = logging.getLogger(__name__)

INVALID_REQUEST = -32600
DOCUMENT_SYNC = {types.TEXT_DOCUMENT_DID_OPEN, types.TEXT_DOCUMENT_DID_CHANGE, types.TEXT_DOCUMENT_DID_CLOSE}
# The workDoneToken of the workspace/executeCommand being run: a client that passes one
# shows the command's progress itself (client-initiated progress), so none is created.
COMMAND_WORK_DONE_TOKEN: contextvars.ContextVar[int | str | None] = contextvars.ContextVar(
    "command_work_done_token", default=None
)


class RejectedRequest:
    """A request that could not be decoded, answered with ``error``."""

    jsonrpc = JsonRPCProtocol.VERSION

    def __init__(self, msg_id: Any, method: str, error: JsonRpcException) -> None:
        self.id = msg_id
        self.method = method
        self.error = error


class RobustProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]):
        if "jsonrpc" not in data:
            return data  # a nested object: pygls structures whole messages only
        try:
            return super().structure_message(data)
        except JsonRpcException as err:
            if "id" in data and "method" in data:
                method = str(data["method"])
                known = method in self.fm.features or method in self.fm.builtin_features
                error = err if known else JsonRpcMethodNotFound.of(method)
                if known and not isinstance(err, JsonRpcInvalidParams):
                    error = JsonRpcInvalidParams()
                error.message = f"{error.message}: params of {method} do not match the protocol"
                return RejectedRequest(data["id"], method, error)
            raise

    def handle_message(self, message: Any):
        if isinstance(message, RejectedRequest):
            log.warning("rejected request %s %s: %s", message.id, message.method, message.error.message)
            self._send_response(message.id, None, message.error.to_response_error())
            return
        method = getattr(message, "method", None)
        msg_id = getattr(message, "id", None)
        if self._shutdown and method not in (None, types.EXIT) and msg_id is not None:
            self._send_response(
                msg_id,
                None,
                types.ResponseError(code=INVALID_REQUEST, message="the server is shutting down"),
            )
            return
        if method is None or self._shutdown or message.jsonrpc != JsonRPCProtocol.VERSION:
            super().handle_message(message)  # responses, and pygls's own warnings
            return
        # What pygls's handle_message does, without its isinstance checks against
        # runtime-checkable Protocols: tens of microseconds for each of a keystroke's
        # two or three messages.
        context = contextvars.copy_context()
        if msg_id is not None:
            context.run(self._handle_request, msg_id, method, message.params)
        elif method in DOCUMENT_SYNC:
            context.run(self._sync_document, method, message.params)
        else:
            context.run(self._handle_notification, method, message.params)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        # aicockpit converts positions as UTF-16, the LSP default; never negotiate another.
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None
        result = yield from super().lsp_initialize(params)
        # Features may take back what they registered, depending on what the client can do.
        for adjust in getattr(self._server, "capability_adjusters", ()):
            adjust(params.capabilities, result.capabilities)
        return result

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Any:
        # pygls runs commands as a separate future behind a generator, so
        # $/cancelRequest (or a cancelled progress) never reached the command and a
        # cancelled command got no answer. Awaiting it here makes it this request's task.
        handler = self.fm.commands.get(params.command)
        if handler is None:
            raise JsonRpcInvalidParams(message=f"unknown command {params.command!r}")
        try:
            args, kwargs = _prepare_command_arguments(handler, params, self._converter)
        except Exception as err:
            raise JsonRpcInvalidParams(message=f"invalid arguments for {params.command}: {err}") from None
        COMMAND_WORK_DONE_TOKEN.set(params.work_done_token)
        result = handler(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    def _sync_document(self, method: str, params: Any) -> None:
        # Straight to aicockpit's handler: pygls's built-in one would also keep a copy
        # of the document, through its notification path and a generator round trip
        # (uuids and thread-safe futures per keystroke). Errors are reported the same way.
        if (handler := self.fm.features.get(method)) is None:
            return
        try:
            handler(params)
        except Exception as err:
            log.exception("%s failed", method)
            self._server._report_server_error(err, FeatureNotificationError)
