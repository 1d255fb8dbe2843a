"""One helper for background work: tasks are kept, failures logged, all of them cancellable."""

from __future__ import annotations

import asyncio
import gc
import logging

from aicockpit import background


async def test_a_task_nobody_holds_runs_to_its_end():
    done = asyncio.Event()

    async def work():
        await asyncio.sleep(0.01)
        done.set()

    background.spawn(work(), name="unheld")
    gc.collect()  # asyncio alone keeps only a weak reference
    await asyncio.wait_for(done.wait(), 5)


async def test_a_failure_is_logged_with_the_task_name(caplog):
    async def fail():
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="aicockpit.background"):
        task = background.spawn(fail(), name="doomed work")
        await asyncio.wait([task])
    assert any("doomed work" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_an_awaited_task_leaves_its_failure_to_the_one_awaiting(caplog):
    async def fail():
        raise ValueError("mine to handle")

    with caplog.at_level(logging.ERROR, logger="aicockpit.background"):
        task = background.spawn(fail(), name="child", awaited=True)
        try:
            await task
        except ValueError:
            pass
    assert not [r for r in caplog.records if r.name == "aicockpit.background"]


async def test_cancel_all_stops_every_task_and_is_not_logged_as_a_failure(caplog):
    started = asyncio.Event()

    async def forever():
        started.set()
        await asyncio.sleep(3600)

    tasks = [background.spawn(forever(), name=f"forever {n}") for n in range(3)]
    await started.wait()
    with caplog.at_level(logging.ERROR, logger="aicockpit.background"):
        await background.cancel_all()
    assert all(task.cancelled() for task in tasks)
    assert not [t for t in background.running() if t in tasks]
    assert not caplog.records
