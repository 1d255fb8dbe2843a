"""The project index's LSP side: crawl with progress, file watching, workspace folders.

- After ``initialized``, each workspace folder is crawled in a worker thread,
  reported with work-done progress ("indexing: 400/2411 files").
- Changes on disk arrive through ``workspace/didChangeWatchedFiles`` when the
  client supports its dynamic registration, through watchdog otherwise (never
  both; ``index.watch`` can force one or turn watching off).
- ``workspace/didChangeWorkspaceFolders`` adds and removes folders.
- ``aicockpit/index`` reports the index's state; ``aicockpit/context``
  (``{textDocument: {uri}, position}``) returns the snippets and prompt a
  completion there would get, without generating.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from lsprotocol import types

from aicockpit.background import spawn
from aicockpit.config import IndexConfig
from aicockpit.context.documents import uri_to_path
from aicockpit.context.index import ProjectIndex
from aicockpit.context.positions import Position
from aicockpit.context.watch import ChangeCoalescer, WatchdogWatcher
from aicockpit.engine.base import EngineUnavailable
from aicockpit.features.params import DocumentArg, PositionArg, decode
from aicockpit.features.progress import WorkDone
from aicockpit.prompt.assemble import describe_prompt

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

INDEX = "aicockpit/index"
CONTEXT = "aicockpit/context"
WATCH_REGISTRATION = "aicockpit-watched-files"
REGISTRATION_TIMEOUT_S = 10.0


class ContextArgs(msgspec.Struct, rename="camel"):
    text_document: DocumentArg
    position: PositionArg


class IndexFeature:
    def __init__(self, server: AicockpitServer, app: App) -> None:
        self.server = server
        self.app = app
        self.coalescer: ChangeCoalescer | None = None
        self.watchdog: WatchdogWatcher | None = None
        self.mode = "off"
        self.tasks: set[asyncio.Task[None]] = set()

    def folders(self) -> list[str]:
        workspace = self.server.workspace
        paths = [uri_to_path(f.uri) for f in workspace.folders.values()]
        if not paths and workspace.root_uri:
            paths = [uri_to_path(workspace.root_uri)]
        return [p for p in paths if p]

    async def start(self) -> None:
        config = self.app.config.index
        self.app.index.configure(config)
        if not config.enabled:
            return
        self.coalescer = ChangeCoalescer(self.app.index.refresh, config.debounce_ms / 1000)
        self.app.index.refresh_later = self.coalescer.add  # a closed document is re-read there
        self.mode = await self._choose_watch_mode(config.watch, self.coalescer.add)
        for folder in self.folders():
            self.add_folder(folder)
        self.app.index.started = True

    async def _choose_watch_mode(self, setting: str, changed: Callable[[Iterable[str]], None]) -> str:
        caps = self.server.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps else None
        client_can = bool(watched and watched.dynamic_registration)
        if setting == "off":
            return "off"
        if setting in ("auto", "client") and client_can:
            try:
                # Bounded: a client that never answers must not hold up the crawl.
                await asyncio.wait_for(self._register_watcher(), REGISTRATION_TIMEOUT_S)
                return "client"
            except Exception as err:
                log.warning("the client refused to watch files (%s): using watchdog", err)
        if setting == "client":
            log.warning("index.watch is 'client' but the client cannot watch files: not watching")
            return "off"
        self.watchdog = WatchdogWatcher(changed)
        return "watchdog"

    async def _register_watcher(self) -> None:
        watchers = [types.FileSystemWatcher(glob_pattern="**/*")]
        registration = types.Registration(
            id=WATCH_REGISTRATION,
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
        )
        await self.server.client_register_capability_async(
            types.RegistrationParams(registrations=[registration])
        )

    def on_config(self, previous: IndexConfig, current: IndexConfig) -> None:
        """New index settings (excludes, secrets, limits): re-crawl each folder (from the cache)."""
        if self.coalescer is None:
            return
        self.app.index.configure(current)
        if not current.enabled:
            return
        for index in list(self.app.index.folders):
            self.remove_folder(index.root)
            self.add_folder(str(index.root))

    def add_folder(self, folder: str) -> None:
        index = self.app.index.add_folder(folder)
        if self.watchdog is not None:
            self.watchdog.watch(index.root)
        task = spawn(self._crawl(index), name=f"indexing {index.root}")
        self.tasks.add(task)  # to cancel at shutdown
        task.add_done_callback(self.tasks.discard)

    def remove_folder(self, root: str | Path) -> None:
        removed = self.app.index.remove_folder(root)
        if removed:  # closing waits for a write in progress and checkpoints: not on the loop
            spawn(asyncio.to_thread(close_all, removed), name=f"closing the index of {root}")

    async def _crawl(self, index: ProjectIndex) -> None:
        loop = asyncio.get_running_loop()
        # Shown when the client accepts the token; the crawl does not wait for that.
        progress = WorkDone(self.server, "aicockpit", cancellable=False, own_status_shows_it=False)
        progress.start(f"indexing {index.root.name}", percentage=0)
        last = [0.0]

        def report(done: int, total: int) -> None:  # called from the worker thread
            now = time.monotonic()
            if now - last[0] > 0.5 or done == total:
                last[0] = now
                message = f"indexing {index.root.name}: {done}/{total} files"
                loop.call_soon_threadsafe(progress.report, message, done * 100 // max(total, 1))

        message = f"indexing {index.root.name} stopped"
        try:
            stats = await asyncio.to_thread(index.build, report)
            message = f"indexed {stats.files} files, {stats.definitions} definitions in {stats.seconds:.1f} s"
            log.info("%s: %s (%d parsed, %d skipped)", index.root, message, stats.parsed, stats.skipped)
        except Exception as err:  # logged by spawn, with its traceback
            message = f"indexing {index.root.name} failed: {type(err).__name__}: {err}"
            raise
        finally:
            index.ready.set()  # never leave event handlers waiting on a failed crawl
            progress.end(message)  # the editor's progress ends however the crawl did
        # The index lives as long as the session; so do most objects made before now. Frozen,
        # the collector's passes skip them: without an embedded engine (which freezes the heap
        # once it is loaded) a collection walked them all, 2-40 ms on the event loop.
        gc.freeze()

    async def stop(self) -> None:
        """Stop crawling and watching (server shutdown), without waiting for the threads to finish.

        Their teardown joins threads and closes SQLite, whose closing checkpoint is an
        fsync: together 1-8 s on a busy machine, all of it holding up the answer to
        ``shutdown``. It runs in a worker thread instead; should the process end
        first, SQLite recovers its log at the next open.
        """
        for task in list(self.tasks):
            task.cancel()
        spawn(asyncio.to_thread(self._close), name="closing the index")

    def _close(self) -> None:
        self.app.index.refresh_later = None
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.coalescer is not None:
            self.coalescer.stop()  # before the index closes: a flush in progress still writes
        self.app.index.close()


def close_all(indexes: list[ProjectIndex]) -> None:
    for index in indexes:
        index.close()


def setup(server: AicockpitServer, app: App) -> None:
    feature = IndexFeature(server, app)
    app.startup_hooks.append(feature.start)
    app.shutdown_hooks.append(feature.stop)
    app.subscribe("index", feature.on_config)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        if feature.coalescer is None or feature.mode != "client":
            return
        paths = [uri_to_path(change.uri) for change in params.changes]
        feature.coalescer.add(p for p in paths if p)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.removed:
            path = uri_to_path(folder.uri)
            found = app.index.folder_of(path)
            if found is not None:
                if feature.watchdog is not None:
                    feature.watchdog.unwatch(found[0].root)
                feature.remove_folder(found[0].root)
        if feature.coalescer is None:
            return  # indexing is off, or not started yet (initialized will crawl them)
        for folder in params.event.added:
            path = uri_to_path(folder.uri)
            if path:
                feature.add_folder(path)

    @server.feature(INDEX)
    async def index_status(params: Any = None) -> dict[str, Any]:
        return {**app.index.status(), "watch": feature.mode}

    @server.feature(CONTEXT)
    async def context(params: Any = None) -> dict[str, Any]:
        """What a completion here would send to the completion role's model, exactly."""
        args = decode(params, ContextArgs)
        uri = args.text_document.uri
        position = Position(args.position.line, args.position.character)
        cursor, outcome = app.completions.locate(uri, position)
        if outcome == "unknown_document":
            return {"error": f"not an open document: {uri}"}
        if cursor is None:
            return {"error": f"no completion here: {outcome.replace('_', ' ')}"}
        try:
            engine = app.router.for_role("completion")
        except EngineUnavailable as err:
            return {"error": f"the completion model is not ready (its tokenizer counts the budget): {err}"}
        prepared = app.completions.prepare(cursor, engine)
        if prepared is None:
            return {"error": "a secrets file: never sent to a model"}
        return describe_prompt(prepared.prompt, engine.backend)
