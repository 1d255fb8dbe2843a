"""The session's language server: one real ``aicockpit serve`` with the tiny model."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types

from tests.client import SessionClient, client_config
from tests.support import scratch_workspace, serve_command, server_env, wait_engine_ready
from tests.vllm_serve import VllmServe

INIT_OPTIONS = {"completion": {"max_tokens": 24}, "edit": {"max_tokens": 48}, "chat": {"max_tokens": 48}}


def client_capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
        window=types.WindowClientCapabilities(work_done_progress=True, show_document=None),
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True,
                change_annotation_support=types.ChangeAnnotationsSupportOptions(groups_on_label=True),
            ),
        ),
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
                data_support=True,
            ),
            synchronization=types.TextDocumentSyncClientCapabilities(),
            inline_completion=types.InlineCompletionClientCapabilities(),
            completion=types.CompletionClientCapabilities(
                completion_item=types.ClientCompletionItemOptions(
                    documentation_format=[types.MarkupKind.Markdown, types.MarkupKind.PlainText]
                )
            ),
        ),
    )


@pytest_lsp.fixture(scope="session", config=client_config(serve_command(), server_env()))
async def client(lsp_client: SessionClient):
    lsp_client.initialize_result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(),
            root_uri=scratch_workspace().as_uri(),
            initialization_options=INIT_OPTIONS,
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="session", autouse=True)
def session_server_first(request):
    """Start the session's server before the first test when any test will use it: its engine
    loads (~12 s here) while the unit tests, which run first (testpaths) and are light, run."""
    if any({"client", "ready"} & set(item.fixturenames) for item in request.session.items):
        request.getfixturevalue("client")


@pytest.fixture(scope="session")
async def ready(client):
    """The session client, once its engine has loaded."""
    await wait_engine_ready(client)
    return client


@pytest.fixture(scope="session")
def vllm_serve(tmp_path_factory):
    """One ``vllm serve`` for the remote-backend and LiteLLM tests (a start costs ~20 s here),
    not started yet: ``await vllm_serve.running()`` starts it, or waits until it answers."""
    server = VllmServe(tmp_path_factory.mktemp("vllm_serve") / "serve.log")
    yield server
    server.stop()
