"""initialize / initialized / shutdown: configuration and the engine's life.

The engine loads in the background after ``initialized``, reported with work-done
progress; ``shutdown`` stops it (at once: no grace period) and waits for it. ``exit``
needs no handler here: pygls ends the session, then ``serve`` ends the process and
kills whatever child process is left (ending.py).

When the engine dies, the editor is told (a warning) and its restart shows as
work-done progress; an engine that fails to start, or that the host gave up
restarting, is an error message saying what to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from aicockpit import background
from aicockpit.config import IndexConfig, LoggingConfig
from aicockpit.context.files import WorkspaceFiles
from aicockpit.engine.base import EngineState
from aicockpit.features.progress import EngineProgress, client_shows_own_status
from aicockpit.features.stats import engine_fix

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 1.0


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


def show_error(server: LanguageServer, message: str) -> None:
    server.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))


def show_warning(server: LanguageServer, message: str) -> None:
    server.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))


def failure_message(app: App, message: str) -> str:
    """One sentence for the user: what failed, and where to fix it when that is known."""
    if app.host.last_crash:  # the host gave up restarting: the message says why
        return f"aicockpit: {message}"
    fix = engine_fix(app)
    if "flag" in fix:
        origin = f"the model comes from the server's {fix['flag']} flag"
        return f"aicockpit cannot load the model: {message} ({origin})"
    if "setting" in fix:
        hint = "" if f"set {fix['setting']}" in message else f"; set {fix['setting']}"
        return f"aicockpit cannot load the model: {message}{hint}"
    return f"aicockpit: the engine failed to start: {message}"


def setup(server: AicockpitServer, app: App) -> None:
    progress = EngineProgress(server)
    in_order = asyncio.Lock()  # state changes reach the editor in order, however long a token takes

    def on_state(state: EngineState, message: str) -> None:
        log.info("engine %s: %s", state.value, message)
        if state is EngineState.CRASHED:
            show_warning(server, f"aicockpit: the engine stopped unexpectedly: {message}")
        elif state is EngineState.FAILED:
            # A client that shows the engine's state itself reports this from aicockpit/stats.
            if not client_shows_own_status(server):
                show_error(server, failure_message(app, message))
        background.spawn(show_progress(state, message), name="engine progress")

    async def show_progress(state: EngineState, message: str) -> None:
        async with in_order:
            if state in (EngineState.LOADING, EngineState.CRASHED):
                if progress.active:
                    progress.report(message)
                else:
                    await progress.begin(message)
            else:
                progress.end(message if state is EngineState.READY else f"engine {state.value}")

    app.host.on_state(on_state)

    def on_logging(_previous: LoggingConfig, current: LoggingConfig) -> None:
        # Also how initialize's options turn it on: the defaults have it off.
        if current.loop_monitor:
            app.telemetry.loop_lag.start()
        else:
            app.telemetry.loop_lag.stop()

    app.subscribe("logging", on_logging)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.log_messages.bind(asyncio.get_running_loop())
        app.workspace = workspace_from(params, app.live("index"))
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
        background.spawn(watch_health(), name="role health")

    async def watch_health() -> None:
        """Each role's state is judged once a second, so a change is logged when it happens."""
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            app.health.evaluate()

    async def start_engine() -> None:
        # The router loads the embedded engines the roles use (none when all are remote). The
        # progress is shown in the background, in order with the engine's states: what follows
        # (the index's crawl) must not wait for the client to accept a progress token.
        if app.router.uses_default_engine():
            message = f"loading {app.config.engine.model}"
            background.spawn(show_progress(EngineState.LOADING, message), name="engine progress")
        await app.router.apply(app.config)

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: None) -> None:
        progress.end("shutting down")
        for hook in app.shutdown_hooks:
            await hook()
        await app.router.stop()
        await background.cancel_all()  # what is left: warm-up, progress tickers, generations
        app.telemetry.loop_lag.stop()
