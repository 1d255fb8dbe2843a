"""The index's work-done progress ends however the crawl ends."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from aicockpit.features.index import IndexFeature


class FakeProgress:
    def __init__(self):
        self.events = []

    async def create_async(self, token):
        self.events.append(("create", token))

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


def feature() -> tuple[IndexFeature, FakeProgress]:
    progress = FakeProgress()
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
