"""pygls's LSP protocol, hardened: every request with a valid id gets exactly one answer.

pygls 2.1.1 drops requests whose params fail type conversion (no response at
all), ignores requests after ``shutdown``, runs a notification method sent with
an id without answering it, and runs a request method sent without one; the
spec wants one response for each request. Messages come in through
``receive``, which checks the JSON-RPC envelope first (envelope.py).

Errors caused by the client's input are logged as one warning line: a client
that keeps sending bad input must not fill the editor's output panel with
tracebacks. Exceptions that are not a deliberate JSON-RPC error (server bugs)
keep pygls's traceback at error level.

It runs commands where ``$/cancelRequest`` cannot reach them. It also keeps its
own copy of every document; aicockpit keeps one (context/documents.py), so
document notifications go straight to its handlers.

This is the one module that uses pygls's private names, written against pygls
2.1.1 (pyproject.toml pins it): ``RobustProtocol`` lists them and why, and each use
is marked "pygls 2.1.1". Everything else, the tests included, goes through the
public names here (``receive``, ``shut_down``, ``to_json``, ``requests_in_flight``)
or pygls's own public API. A pygls upgrade re-reads each marked line.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Callable, Generator
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import msgspec
from cattrs.v import transform_error
from lsprotocol import types
from pygls.exceptions import (
    FeatureNotificationError,
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCProtocol,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    MsgId,
)

# pygls 2.1.1: private; see RobustProtocol.
from pygls.protocol.language_server import _prepare_command_arguments, lsp_method

from aicockpit.envelope import INVALID_REQUEST, REQUEST, RESPONSE, check_envelope, short, valid_id

log = logging.getLogger(__name__)
_ENCODE = msgspec.json.encode

DOCUMENT_SYNC = {types.TEXT_DOCUMENT_DID_OPEN, types.TEXT_DOCUMENT_DID_CHANGE, types.TEXT_DOCUMENT_DID_CLOSE}
SHUTDOWN_ANSWERS_S = 2.0  # how long shutdown waits for the requests it cancelled to answer
MAX_PROBLEMS = 3  # of a params conversion error, named in the warning and the error response
# The workDoneToken of the workspace/executeCommand being run: a client that passes one
# shows the command's progress itself (client-initiated progress), so none is created.
COMMAND_WORK_DONE_TOKEN: contextvars.ContextVar[int | str | None] = contextvars.ContextVar(
    "command_work_done_token", default=None
)
# When the message being handled was read from the client (time.perf_counter), set for its
# handler: a keystroke's request waits behind the didChange read with it, and its debounce and
# deadline count from its arrival, not from when its handler began.
RECEIVED_AT: contextvars.ContextVar[float | None] = contextvars.ContextVar("received_at", default=None)
# Called at initialize with (client capabilities, server capabilities) once pygls has
# built the latter: a feature can withdraw what this client should not use.
CapabilityAdjuster = Callable[[types.ClientCapabilities, types.ServerCapabilities], None]


P = TypeVar("P")


class TypedMessage(msgspec.Struct, Generic[P]):
    """A request or notification whose params msgspec decodes (``RobustProtocol.typed_params``);
    it reads like pygls's own messages where handle_message looks."""

    jsonrpc: str
    method: str
    params: P
    id: Any = None  # checked by check_envelope: an integer or a string, or absent


class CancelParams(msgspec.Struct):
    """$/cancelRequest's: the id is checked where the cancel is handled (a bad one is logged)."""

    id: Any


def conversion_problems(err: Exception) -> str:
    """What did not fit, e.g. ``expected int @ $.params.position.line``."""
    if isinstance(err, msgspec.ValidationError):  # one problem: ``Expected `int`... - at `$.params...```
        return str(err)
    try:
        problems = transform_error(err)
    except Exception:
        problems = [f"{type(err).__name__}: {err}"]
    more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
    return "; ".join(problems[:MAX_PROBLEMS]) + more


class RobustProtocol(LanguageServerProtocol):
    # pygls 2.1.1 private names used here, and why (no public name does the job):
    # - _send_response: how pygls answers a request; the answers added here go out the same way.
    # - _shutdown: set by pygls's shutdown handler; nothing public says shutdown was received.
    # - _converter, _result_types: what pygls's structure_message builds messages with (_structure
    #   does that without its traceback); _converter also converts commands' arguments.
    # - _request_futures: the running handlers by id, where $/cancelRequest and shutdown find them.
    #   Typed for concurrent futures, it holds asyncio tasks too (pygls's own _execute_handler's).
    # - _handle_request, _handle_notification: the steps pygls's handle_message dispatches to.
    # - _execute_handler, _send_handler_result, _handle_cancel_notification: overridden steps.
    # - _server._report_server_error: how pygls reports a failed notification handler.
    # - _prepare_command_arguments: converts a command's arguments as pygls's executeCommand does.
    # - _send_data, _include_headers, _serialize_message: how pygls writes a message; overridden.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_seen = False
        self.capability_adjusters: list[CapabilityAdjuster] = []
        # Methods whose params msgspec decodes into a Struct (TypedMessage), not pygls's cattrs
        # converter into lsprotocol's classes: ~1 against ~10 us a message (hot), the messages
        # of every keystroke among them. Filled by AicockpitServer.typed_feature.
        self.typed_params: dict[str, type[TypedMessage[Any]]] = {
            types.CANCEL_REQUEST: TypedMessage[CancelParams]
        }

    @property
    def shut_down(self) -> bool:
        """``shutdown`` was received (and answered)."""
        return self._shutdown  # pygls 2.1.1

    def to_json(self, value: object) -> Any:
        """An lsprotocol object as JSON-ready builtins, as pygls would send it (camelCase, no nulls)."""
        # pygls 2.1.1: the protocol's own converter, the one its messages go out with.
        return self._converter.unstructure(value)

    def _send_data(self, data: Any) -> None:
        """pygls's, with msgspec in place of the json module: every message out (a keystroke's
        answer among them) is encoded ~8x quicker. lsprotocol's objects become builtins through
        pygls's own converter first (camelCase names, no nulls), as pygls's encoder does."""
        if not data:
            return
        if self.writer is None:
            log.error("unable to send a message: no transport")
            return
        try:
            # pygls 2.1.1: _converter, _serialize_message (objects the converter leaves alone).
            body = _ENCODE(self._converter.unstructure(data), enc_hook=self._serialize_message)
            if self._include_headers:  # pygls 2.1.1: set when serving a stream (stdio)
                head = (
                    f"Content-Length: {len(body)}\r\nContent-Type: {self.CONTENT_TYPE}; charset=utf-8\r\n\r\n"
                )
                body = head.encode() + body
            written = self.writer.write(body)
            if inspect.isawaitable(written):
                asyncio.ensure_future(written)
        except Exception as error:  # as pygls: a message that cannot be written is the server's error
            log.exception("unable to send a message")
            self._server._report_server_error(error, JsonRpcInternalError)  # pygls 2.1.1

    def requests_in_flight(self) -> int:
        """Requests (and notifications) whose handlers have not ended."""
        return len(self._request_futures)  # pygls 2.1.1

    def receive(self, data: Any, received_at: float | None = None) -> None:
        """Handle one message as decoded from the client's JSON; errors in it are answered, not raised.

        ``received_at``: when it was read (``time.perf_counter``); its handler finds it in
        ``RECEIVED_AT``.
        """
        verdict = check_envelope(data, self._registered)
        if verdict.problem:
            log.warning("%s", verdict.problem)
            if verdict.answer_id is not None:
                self._send_response(  # pygls 2.1.1
                    verdict.answer_id, None, types.ResponseError(code=verdict.code, message=verdict.problem)
                )
            return
        try:
            message = self._structure(data, verdict.kind)
        except Exception as err:  # the params do not fit the method's types: the client's error
            problems = conversion_problems(err)
            if verdict.kind is not REQUEST:
                method = short(data.get("method", "response"))
                log.warning("dropped a %s message that does not match the protocol: %s", method, problems)
                return
            error = JsonRpcInvalidParams(
                f"params of {short(data['method'])} do not match the protocol: {problems}"
            )
            log.warning("rejected request %s: %s", short(data["id"]), error.message)
            self._send_response(data["id"], None, error.to_response_error())  # pygls 2.1.1
            return
        self.handle_message(message, received_at)

    def _registered(self, method: str) -> bool:
        return method in self.fm.features or method in self.fm.builtin_features

    def _structure(self, data: dict[str, Any], kind: str) -> Any:
        typed = self.typed_params.get(data["method"]) if kind is not RESPONSE else None
        if typed is not None:
            return msgspec.convert(data, typed)
        # pygls 2.1.1's structure_message (its private _converter and _result_types), without
        # its error-level traceback for bad client input.
        if kind is RESPONSE:
            if "error" in data:
                return self._converter.structure(data, types.ResponseErrorMessage)
            result_type = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
            return self._converter.structure(data, result_type)
        fallback = JsonRPCRequestMessage if kind is REQUEST else JsonRPCNotification
        return self._converter.structure(data, self.get_message_type(data["method"]) or fallback)

    def handle_message(self, message: Any, received_at: float | None = None) -> None:
        method = getattr(message, "method", None)
        msg_id = getattr(message, "id", None)
        if self._shutdown and method not in (None, types.EXIT) and msg_id is not None:  # pygls 2.1.1
            self._send_response(
                msg_id,
                None,
                types.ResponseError(code=INVALID_REQUEST, message="the server is shutting down"),
            )
            return
        if method is None or self._shutdown or message.jsonrpc != JsonRPCProtocol.VERSION:  # pygls 2.1.1
            super().handle_message(message)  # responses, and pygls's own warnings
            return
        # What pygls's handle_message does, without its isinstance checks against
        # runtime-checkable Protocols: tens of microseconds for each of a keystroke's
        # two or three messages (pygls 2.1.1: _handle_request, _handle_notification).
        context = contextvars.copy_context()
        if received_at is not None:
            context.run(RECEIVED_AT.set, received_at)
        if msg_id is not None:
            context.run(self._handle_request, msg_id, method, message.params)
        elif method in DOCUMENT_SYNC:
            context.run(self._sync_document, method, message.params)
        else:
            context.run(self._handle_notification, method, message.params)

    def _send_handler_result(self, future: Future[Any], *, msg_id: MsgId) -> None:
        # A JSON-RPC error a handler raised on purpose (bad params, an unknown document,
        # a request that cannot be carried out) answers the client's input: one warning
        # line. pygls logs each with a traceback at error level. (pygls 2.1.1: overridden,
        # and _request_futures, _send_response.)
        error = None if future.cancelled() else future.exception()
        if isinstance(error, JsonRpcException) and not isinstance(error, JsonRpcInternalError):
            self._request_futures.pop(msg_id, None)
            log.warning("answered request %s with error %d: %s", short(msg_id), error.code, error.message)
            self._send_response(msg_id, error=error.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def _execute_handler(
        self,
        msg_id: MsgId,
        handler: Callable[..., Any],
        callback: Callable[[Future[Any]], None],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """pygls's, but an async handler's answer goes out from its own task.

        pygls answers from the task's done callback, a loop turn later, behind
        whatever the handler's work queued meanwhile (a completion's stream
        wind-down parses the rest of the backend's answer first): ~0.3 ms on every
        keystroke's answer. Errors and cancellation still answer from the callback.
        (pygls 2.1.1: overridden, and _request_futures.)
        """
        if not inspect.iscoroutinefunction(handler):
            super()._execute_handler(msg_id, handler, callback, args, kwargs)
            return
        answered = False

        async def run_and_answer() -> None:
            nonlocal answered
            result = await handler(*(args or ()), **(kwargs or {}))
            answered = True
            done: Future[Any] = Future()
            done.set_result(result)
            callback(done)

        def on_done(task: asyncio.Task[None]) -> None:
            # Notifications' tasks are kept under made-up ids that nothing else removes.
            self._request_futures.pop(msg_id, None)
            if not answered:
                # pygls 2.1.1 types the callback for concurrent futures and hands it asyncio
                # tasks itself: it reads only what both have (cancelled, result, exception).
                callback(task)  # type: ignore[arg-type]

        task = asyncio.ensure_future(run_and_answer())
        # pygls 2.1.1: typed for concurrent futures, it holds asyncio tasks too (see above).
        self._request_futures[msg_id] = task  # type: ignore[assignment]
        task.add_done_callback(on_done)

    def _handle_cancel_notification(self, msg_id: MsgId) -> None:
        # pygls 2.1.1: overridden, and _request_futures.
        if not valid_id(msg_id):
            log.warning("dropped a cancel for id %s: an id is an integer or a string", short(msg_id))
            return
        # Editors cancel requests that were answered a moment ago all the time: not worth a warning.
        future = self._request_futures.pop(msg_id, None)
        if future is None:
            log.debug("cancel for %s: no such request in flight", short(msg_id))
        elif future.cancel():
            log.debug("cancelled request %s", short(msg_id))

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        # pygls would set everything up again, replacing the workspace the index watches.
        if self._initialize_seen:
            raise JsonRpcInvalidRequest("initialize was already received: it is sent once per session")
        self._initialize_seen = True
        # aicockpit converts positions as UTF-16, the LSP default; never negotiate another.
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None
        result = yield from super().lsp_initialize(params)
        # Features may take back what they registered, depending on what the client can do.
        for adjust in self.capability_adjusters:
            adjust(params.capabilities, result.capabilities)
        return result

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        # pygls cancels the requests still running and answers shutdown at once; their
        # "cancelled" answers come a few loop turns later, and an exit that follows the
        # shutdown answer quickly ends the process before they are written. The client
        # is told shutdown is done only once each of them has been answered.
        # pygls 2.1.1: _request_futures (typed for concurrent futures; holds asyncio tasks too).
        running: list[object] = list(self._request_futures.values())
        in_flight = [f for f in running if isinstance(f, asyncio.Future) and not f.done()]
        yield from super().lsp_shutdown(*args)
        if in_flight:
            yield self._until_answered, (in_flight,), None

    @staticmethod
    async def _until_answered(requests: list[asyncio.Future[Any]]) -> None:
        # Each request's answer is written by a done callback registered before this wait's.
        await asyncio.wait(requests, timeout=SHUTDOWN_ANSWERS_S)

    # pygls 2.1.1 runs a built-in handler of any kind (a coroutine too) but annotates this
    # one as the generator it ships.
    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(  # type: ignore[override]
        self, params: types.ExecuteCommandParams
    ) -> Any:
        # pygls runs commands as a separate future behind a generator, so
        # $/cancelRequest (or a cancelled progress) never reached the command and a
        # cancelled command got no answer. Awaiting it here makes it this request's task.
        handler = self.fm.commands.get(params.command)
        if handler is None:
            raise JsonRpcInvalidParams(message=f"unknown command {short(params.command)}")
        try:
            args, kwargs = _prepare_command_arguments(handler, params, self._converter)  # pygls 2.1.1
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
            self._server._report_server_error(err, FeatureNotificationError)  # pygls 2.1.1
