"""initialize / initialized / shutdown: configuration and the engine's life.

The engine loads in the background after ``initialized``, reported with work-done
progress; ``shutdown`` stops it (at once: no grace period) and waits for it. ``exit``
needs no handler here: pygls ends the session, then ``serve`` ends the process and
kills whatever child process is left (ending.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from aicockpit import background
from aicockpit.config import IndexConfig
from aicockpit.context.files import WorkspaceFiles
from aicockpit.engine.base import EngineState
from aicockpit.features.progress import EngineProgress

log = logging.getLogger(__name__)


def workspace_from(
    params: types.InitializeParams, settings: Callable[[], IndexConfig]
) -> WorkspaceFiles | None:
    """The first workspace folder (or the legacy root) that exists on disk."""
    candidates = [f.uri for f in params.workspace_folders or []] + [params.root_uri or ""]
    paths = [to_fs_path(uri) if uri else None for uri in candidates] + [params.root_path]
    for path in paths:
        if path and Path(path).is_dir():
            return WorkspaceFiles(Path(path), settings)
    return None


def show_error(server, message: str) -> None:
    server.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))


def setup(server, app) -> None:
    progress = EngineProgress(server)

    def on_state(state: EngineState, message: str) -> None:
        log.info("engine %s: %s", state.value, message)
        if state is EngineState.READY:
            progress.end(message)
        elif state is EngineState.FAILED:
            progress.end("engine failed")
            show_error(server, f"aicockpit: the engine failed to start: {message}")

    app.host.on_state(on_state)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.log_handler.bind(asyncio.get_running_loop())
        app.telemetry.loop_lag.start()
        app.workspace = workspace_from(params, lambda: app.config.index)
        problems = app.configure(params.initialization_options)
        for problem in problems:
            show_error(server, f"aicockpit: invalid option ({problem}); using the default")

    started = False  # a client that sends initialized twice must not start things twice

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        nonlocal started
        if started:
            log.warning("initialized was sent again: ignored (the engine and the index start once)")
            return
        started = True
        await start_engine()
        for hook in app.startup_hooks:
            await hook()

    async def start_engine() -> None:
        # The router loads the embedded engines the roles use (none when all are remote).
        if app.router.uses_default_engine():
            await progress.begin(f"loading {app.config.engine.model}")
        await app.router.apply(app.config)

    server.start_engine = start_engine

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: None) -> None:
        progress.end("shutting down")
        for hook in app.shutdown_hooks:
            await hook()
        await app.router.stop()
        await background.cancel_all()  # what is left: warm-up, progress tickers, generations
        app.telemetry.loop_lag.stop()
