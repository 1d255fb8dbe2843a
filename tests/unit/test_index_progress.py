"""The index's work-done progress ends however the crawl ends, and never holds the crawl up."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from aicockpit.features.index import IndexFeature


class FakeProgress:
    def __init__(self, answered: asyncio.Event | None = None):
        self.events = []
        self.tokens = {}
        self.answered = answered  # a client that answers window/workDoneProgress/create when this is set

    async def create_async(self, token):
        self.events.append(("create", token))
        if self.answered is not None:
            await self.answered.wait()

    def begin(self, token, value):
        self.events.append(("begin", value.message))

    def report(self, token, value):
        self.events.append(("report", value.message))

    def end(self, token, value):
        self.events.append(("end", value.message))


class FakeIndex:
    def __init__(self, build):
        self.root = Path("/tmp/project")
        self.ready = threading.Event()
        self.build = build


def feature(answered: asyncio.Event | None = None) -> tuple[IndexFeature, FakeProgress]:
    progress = FakeProgress(answered)
    server = SimpleNamespace(
        client_capabilities=SimpleNamespace(window=SimpleNamespace(work_done_progress=True)),
        work_done_progress=progress,
    )
    return IndexFeature(server, SimpleNamespace()), progress


async def test_a_crawl_that_raises_ends_its_progress_and_frees_waiters():
    def build(progress):
        raise OSError("disk on fire")

    index_feature, progress = feature()
    index = FakeIndex(build)
    with pytest.raises(OSError):
        await index_feature._crawl(index)
    assert progress.events[-1] == ("end", "indexing project failed: OSError: disk on fire")
    assert index.ready.is_set()


async def test_a_cancelled_crawl_ends_its_progress():
    release = threading.Event()

    def build(progress):
        release.wait(5)

    index_feature, progress = feature()
    task = asyncio.ensure_future(index_feature._crawl(FakeIndex(build)))
    while not any(kind == "begin" for kind, _ in progress.events):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert progress.events[-1] == ("end", "indexing project stopped")


async def test_the_crawl_does_not_wait_for_the_client_to_accept_its_progress_token():
    answered = asyncio.Event()
    crawled = threading.Event()

    def build(report):
        crawled.set()
        report(1, 2)
        return SimpleNamespace(files=2, definitions=3, seconds=0.1, parsed=2, skipped=0)

    index_feature, progress = feature(answered)
    index = FakeIndex(build)
    await asyncio.wait_for(index_feature._crawl(index), 10)  # the client never answered meanwhile
    assert crawled.is_set() and index.ready.is_set()
    assert [kind for kind, _ in progress.events] == ["create"]  # nothing begun, nothing to end
