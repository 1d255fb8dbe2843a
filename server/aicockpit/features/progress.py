"""Work-done progress for long commands, cancellable from the editor's progress UI."""

from __future__ import annotations

import asyncio
import logging
import uuid

from lsprotocol import types

log = logging.getLogger(__name__)


class WorkDone:
    """``async with WorkDone(server, "Editing") as work: work.report("...")``.

    Cancelling from the client's progress UI cancels the task that entered the
    block, which aborts its generation in the engine.
    """

    def __init__(self, server, title: str, cancellable: bool = True) -> None:
        self._server = server
        self._title = title
        self._cancellable = cancellable
        self._token: str | None = None

    async def __aenter__(self) -> WorkDone:
        caps = self._server.client_capabilities.window
        if caps is None or not caps.work_done_progress:
            return self
        token = f"aicockpit-{uuid.uuid4().hex[:12]}"
        try:
            await self._server.work_done_progress.create_async(token)
        except Exception as err:
            log.warning("client refused a progress token: %s", err)
            return self
        self._token = token
        progress = self._server.work_done_progress
        progress.begin(
            token, types.WorkDoneProgressBegin(title=self._title, cancellable=self._cancellable, message="")
        )
        task = asyncio.current_task()
        if task is not None and token in progress.tokens:
            progress.tokens[token].add_done_callback(lambda f: f.cancelled() and task.cancel())
        return self

    def report(self, message: str) -> None:
        if self._token is not None:
            self._server.work_done_progress.report(self._token, types.WorkDoneProgressReport(message=message))

    async def __aexit__(self, kind, error, tb) -> None:
        if self._token is None:
            return
        if kind is None:
            message = "done"
        elif issubclass(kind, asyncio.CancelledError):
            message = "cancelled"
        else:
            message = f"failed: {error}"
        self._server.work_done_progress.end(self._token, types.WorkDoneProgressEnd(message=message))
        self._server.work_done_progress.tokens.pop(self._token, None)
