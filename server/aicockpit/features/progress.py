"""Work-done progress, the one class for it: long commands (cancellable from the editor's progress
UI), the engine's loading, the index's crawl.

Who shows what: a request that carries a ``workDoneToken`` gets its progress on that
token (client-initiated). Otherwise the server creates a token, unless the client
declared ``experimental.aicockpit.ownStatus``: such a client (the VS Code extension)
shows the engine's state from ``aicockpit/stats`` and its own progress for what it
asks, so a server-created progress would be a second, different indicator. The
index's crawl is neither, so it is shown to every client that takes progress.

Background work never waits for the client to accept a token (``start``): a client
slow to answer ``window/workDoneProgress/create`` would hold it up.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from types import TracebackType

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from aicockpit.background import spawn
from aicockpit.protocol import COMMAND_WORK_DONE_TOKEN

log = logging.getLogger(__name__)


PROGRESS_TICK_S = 2.0
OWN_STATUS = "ownStatus"


def client_shows_own_status(server: LanguageServer) -> bool:
    """The client declared ``{"experimental": {"aicockpit": {"ownStatus": true}}}``."""
    experimental = server.client_capabilities.experimental
    ours = experimental.get("aicockpit") if isinstance(experimental, dict) else None
    return isinstance(ours, dict) and ours.get(OWN_STATUS) is True


class WorkDone:
    """``async with WorkDone(server, "Editing") as work: work.report("...")``.

    Cancelling from the client's progress UI cancels the task that entered the
    block, which aborts its generation in the engine. ``begin`` and ``end`` serve
    progress that does not fit a block (the engine's loading).
    """

    def __init__(
        self,
        server: LanguageServer,
        title: str,
        cancellable: bool = True,
        token: int | str | None = None,
        message: str = "",
        own_status_shows_it: bool = True,
    ) -> None:
        self._server = server
        self._title = title
        self._cancellable = cancellable
        self._message = message
        # The request's own workDoneToken, if it carried one (a command's is found by itself).
        self._given = token if token is not None else COMMAND_WORK_DONE_TOKEN.get()
        self._token: int | str | None = None
        self._own_status_shows_it = own_status_shows_it  # an ownStatus client shows this itself
        self._starting: asyncio.Task[bool | None] | None = None

    async def begin(self, message: str = "", percentage: int | None = None) -> bool:
        """Show the progress, if the client takes it (returns whether it did)."""
        if self._given is not None:
            token = self._given
        else:
            caps = self._server.client_capabilities.window
            if caps is None or not caps.work_done_progress:
                return False
            if self._own_status_shows_it and client_shows_own_status(self._server):
                return False
            token = f"aicockpit-{uuid.uuid4().hex[:12]}"
            try:
                await self._server.work_done_progress.create_async(token)
            except Exception as err:
                log.warning("client refused a progress token: %s", err)
                return False
        self._token = token
        self._server.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=self._title, cancellable=self._cancellable, message=message, percentage=percentage
            ),
        )
        return True

    def start(self, message: str = "", percentage: int | None = None) -> None:
        """``begin`` in the background: the work goes on meanwhile; reports before the client
        accepted the token are dropped, and ``end`` before that leaves nothing shown."""
        self._starting = spawn(self.begin(message, percentage), name=f"progress: {self._title}")

    @property
    def active(self) -> bool:
        return self._token is not None

    def report(self, message: str, percentage: int | None = None) -> None:
        if self._token is not None:
            self._server.work_done_progress.report(
                self._token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )
        else:
            self._message = message  # what begin shows, once the client has created the token

    def end(self, message: str) -> None:
        if self._starting is not None:
            self._starting.cancel()  # still waiting for the client: it will show nothing
            self._starting = None
        if self._token is None:
            return
        progress = self._server.work_done_progress
        progress.end(self._token, types.WorkDoneProgressEnd(message=message))
        progress.tokens.pop(self._token, None)
        self._token = None

    async def __aenter__(self) -> WorkDone:
        task = asyncio.current_task()

        async def start() -> None:
            if await self.begin(self._message) and task is not None and self._token is not None:
                tokens = self._server.work_done_progress.tokens
                if (future := tokens.get(self._token)) is not None:
                    future.add_done_callback(lambda f: f.cancelled() and task.cancel())

        if self._given is not None:
            await start()
        else:
            # The work does not wait for the client to create the token: Helix answers that
            # request only after the one this block serves (it blocks on codeAction/resolve).
            self._starting = spawn(start(), name=f"progress: {self._title}")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.end("done")
        elif issubclass(kind, asyncio.CancelledError):
            self.end("cancelled")
        else:
            self.end(f"failed: {error}")


class EngineProgress(WorkDone):
    """The engine's loading or a profile switch: not cancellable, with the seconds so far."""

    def __init__(self, server: LanguageServer) -> None:
        super().__init__(server, "aicockpit", cancellable=False)
        self._ticker: asyncio.Task[None] | None = None

    async def begin(self, message: str = "", percentage: int | None = None) -> bool:
        started = await super().begin(message, percentage)
        if started:
            self._ticker = spawn(self._tick(message), name="engine progress ticker")
        return started

    async def _tick(self, message: str) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(PROGRESS_TICK_S)
            self.report(f"{message} ({time.monotonic() - started:.0f} s)")

    def end(self, message: str) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        super().end(message)
