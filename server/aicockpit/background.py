"""The one way to run work in the background: ``spawn``.

asyncio holds only a weak reference to a task: one that nobody else holds can be
garbage-collected in the middle of its work, and its failure is reported (if at
all) only when it is collected, as "Task exception was never retrieved". So every
background task goes through ``spawn``: it is kept here until it ends, and its
failure is logged with its name. ``cancel_all`` stops whatever still runs (server
shutdown).

A task whose creator awaits it (and so sees its failure) is spawned with
``awaited=True``: kept, but its failure is left to the creator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_tasks: set[asyncio.Task[Any]] = set()
_awaited: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, T], name: str | None = None, awaited: bool = False) -> asyncio.Task[T]:
    """Run ``coro`` as a task of the running loop (RuntimeError without one), kept until it ends."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _tasks.add(task)
    if awaited:
        _awaited.add(task)
    task.add_done_callback(_done)
    return task


def _done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if task in _awaited:
        _awaited.discard(task)
        return
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("background task %s failed", task.get_name(), exc_info=error)


def running() -> list[asyncio.Task[Any]]:
    """The background tasks not ended yet (tests and shutdown)."""
    return [task for task in _tasks if not task.done()]


async def cancel_all(timeout: float = 0.5) -> None:
    """Cancel every background task of the running loop and give them ``timeout`` seconds to end.

    Bounded: shutdown must answer at once, and a task may be waiting for a worker
    thread that cannot be interrupted (the thread ends with the process).
    """
    loop = asyncio.get_running_loop()
    tasks = [task for task in running() if task.get_loop() is loop and task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
