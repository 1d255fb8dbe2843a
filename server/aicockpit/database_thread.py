"""One thread per SQLite database: the event loop never waits on a disk.

A SQLite call blocks its caller: opening a database, a query, a commit (whose
write, on a busy disk, can take tens of milliseconds). On the event loop that is
a stall every keystroke's answer waits behind. So a store (chat sessions, token
usage) hands each piece of work to its ``DatabaseThread``: the connection is
opened there, used only there, one piece of work after another (thread-safe by
construction, with SQLite's own same-thread check left on), and the loop awaits
the result.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


class DatabaseThread:
    def __init__(self, name: str, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._db: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"aicockpit-{name}")

    def _run(self, work: Work[T]) -> T:
        if self._db is None:
            self._db = self._connect()  # first use: in this thread, as every later call
        return work(self._db)

    def submit(self, work: Work[T]) -> Future[T]:
        """Queue ``work(connection)``; its result (or exception) arrives in the future."""
        return self._executor.submit(self._run, work)

    async def run(self, work: Work[T]) -> T:
        """``work(connection)`` in the database's thread, awaited from the loop."""
        return await asyncio.wrap_future(self.submit(work))

    def call(self, work: Work[T]) -> T:
        """``work(connection)``, waiting for it: for command-line tools and tests, never the loop."""
        return self.submit(work).result()

    def close(self, wait: bool = False) -> None:
        """Close the connection after the work already queued; ``wait`` blocks until it is done."""

        def close_connection() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        try:
            self._executor.submit(close_connection)
        except RuntimeError:  # closed before
            return
        self._executor.shutdown(wait=wait)
