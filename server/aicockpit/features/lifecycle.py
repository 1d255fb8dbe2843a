"""initialize / initialized / shutdown / exit: configuration and the engine's life.

The engine loads in the background after ``initialized``, reported with work-done
progress; ``shutdown`` stops it and waits, so no engine process outlives the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from aicockpit.context.workspace import Workspace
from aicockpit.engine.base import EngineState

log = logging.getLogger(__name__)

PROGRESS_TICK_S = 2.0


class EngineProgress:
    """Mirrors the engine's state into a ``$/progress`` bar and error messages."""

    def __init__(self, server) -> None:
        self._server = server
        self._token: str | None = None
        self._ticker: asyncio.Task | None = None

    async def begin(self, title: str) -> None:
        caps = self._server.client_capabilities.window
        if caps is None or not caps.work_done_progress:
            return
        token = f"aicockpit-engine-{time.monotonic_ns()}"
        try:
            await self._server.work_done_progress.create_async(token)
        except Exception as err:
            log.warning("client refused a progress token: %s", err)
            return
        self._token = token
        self._server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title="aicockpit", message=title, cancellable=False)
        )
        self._ticker = asyncio.create_task(self._tick(title))

    async def _tick(self, title: str) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(PROGRESS_TICK_S)
            self.report(f"{title} ({time.monotonic() - started:.0f} s)")

    def report(self, message: str) -> None:
        if self._token is not None:
            self._server.work_done_progress.report(self._token, types.WorkDoneProgressReport(message=message))

    def end(self, message: str) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._token is not None:
            self._server.work_done_progress.end(self._token, types.WorkDoneProgressEnd(message=message))
            self._token = None


def workspace_from(params: types.InitializeParams) -> Workspace | None:
    """The first workspace folder (or the legacy root) that exists on disk."""
    candidates = [f.uri for f in params.workspace_folders or []] + [params.root_uri or ""]
    for uri in candidates:
        path = to_fs_path(uri) if uri else None
        if path and Path(path).is_dir():
            return Workspace(Path(path))
    if params.root_path and Path(params.root_path).is_dir():
        return Workspace(Path(params.root_path))
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
        app.workspace = workspace_from(params)
        problems = app.configure(params.initialization_options)
        for problem in problems:
            show_error(server, f"aicockpit: invalid option ({problem}); using the default")

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        await start_engine()

    async def start_engine() -> None:
        # The router loads the embedded engines the roles use (none when all are remote).
        if app.router.uses_default_engine():
            await progress.begin(f"loading {app.config.engine.model}")
        await app.router.apply(app.config)

    server.start_engine = start_engine

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: None) -> None:
        progress.end("shutting down")
        await app.router.stop()

    @server.feature(types.EXIT)
    def exit_(params: None) -> None:
        app.router.kill_now()
