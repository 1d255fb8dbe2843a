"""The LSP client the end-to-end tests drive a server with: pytest-lsp's, through public API only.

On top of pytest-lsp's own client (``make_test_lsp_client``'s handlers included):

- ``send_raw``: a request sent exactly as given (params that break the protocol, ids of our
  choosing), its answer as plain values;
- ``to_json``: an lsprotocol object as the JSON it is sent as;
- code actions structured as the server sent them (lsprotocol's client-side converter turns
  any ``CodeAction`` that has a ``command`` into a ``Command``);
- ``workspace/applyEdit`` and partial results (``$/progress`` carrying a ``delta``) reach the
  ``Editor`` attached to the client (tests/e2e/editor.py).

Every client comes from ``client_config(...)`` (or the session's, tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Union

import cattrs
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcMethodNotFound
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, LanguageClientProtocol
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from aicockpit.features.params import plain  # custom-request results arrive as named tuples

if TYPE_CHECKING:
    from tests.e2e.editor import Editor

_CONVERTER = get_converter()


def to_json(value: Any) -> Any:
    """An lsprotocol object as sent on the wire (camelCase, no nulls): lsprotocol's own converter,
    the one pygls builds its own from."""
    return _CONVERTER.unstructure(value)


class RawRequests(LanguageClientProtocol):
    """pytest-lsp's protocol; while ``send_raw`` sends, a request has no lsprotocol type.

    ``get_message_type`` and ``get_result_type`` are pygls's public hooks for the types a
    request is built as and its answer is read as: without one, a request goes out with its
    params as given, and its answer comes back as plain values (named tuples).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._untyped = False

    def get_message_type(self, method: str) -> Any:
        return None if self._untyped else super().get_message_type(method)

    def get_result_type(self, method: str) -> Any:
        return None if self._untyped else super().get_result_type(method)

    def send_raw(self, method: str, params: Any, msg_id: str | None = None) -> asyncio.Future[Any]:
        self._untyped = True
        try:  # send_request builds, writes and books the request before it returns
            return asyncio.wrap_future(self.send_request(method, params, msg_id=msg_id))
        finally:
            self._untyped = False


class SessionClient(LanguageClient):
    protocol: RawRequests

    def __init__(self) -> None:
        super().__init__(protocol_cls=RawRequests, converter_factory=client_converter)
        self.editor: Editor | None = None  # the Editor attached last, if any
        self.initialize_result: types.InitializeResult | None = None  # kept by the fixture that initializes
        self.exit_code: int | None = None  # the server process's, once it has ended

    async def server_exit(self, server: asyncio.subprocess.Process) -> None:
        self.exit_code = server.returncode
        await super().server_exit(server)


def client_converter() -> cattrs.Converter:
    """pygls's client converter, with code actions told apart by the type of their ``command``."""
    converter = default_converter()

    def structure(obj: dict[str, Any], _type: Any) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)  # noqa: UP007
    return converter


def make_client() -> SessionClient:
    client = SessionClient()
    report_progress = DEFAULT_CLIENT_FEATURES[types.PROGRESS]  # pytest-lsp's: progress_reports

    def progress(params: types.ProgressParams) -> None:
        value = plain(params.value)
        if client.editor is not None and isinstance(value, dict) and "delta" in value:
            client.editor.partials.setdefault(params.token, []).append(value["delta"])
        else:
            report_progress(client, params)

    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        if client.editor is None:  # as pytest-lsp's client answers: it has no such handler
            raise JsonRpcMethodNotFound.of(types.WORKSPACE_APPLY_EDIT)
        return client.editor.apply_edit(params)

    features = {**DEFAULT_CLIENT_FEATURES, types.PROGRESS: progress, types.WORKSPACE_APPLY_EDIT: apply_edit}
    register_lsp_features(client, features)
    return client


def client_config(command: list[str], env: dict[str, str]) -> ClientServerConfig:
    """A server of its own for a test, driven by a ``SessionClient``: ``await client_config(...).start()``."""
    return ClientServerConfig(server_command=command, server_env=env, client_factory=make_client)


def send_raw(
    client: SessionClient, method: str, params: Any, msg_id: str | None = None
) -> asyncio.Future[Any]:
    """Send a request exactly as given (no client-side typing), and await its response."""
    return client.protocol.send_raw(method, params, msg_id)
