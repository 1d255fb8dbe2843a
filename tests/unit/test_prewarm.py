"""Pre-warming: the next completion's prompt prefilled in chunks at the lowest priority, out of the way."""

import asyncio

from aicockpit.completion.prewarm import Prewarmer
from aicockpit.completion.service import CompletionService
from aicockpit.config import AicockpitConfig, CompletionConfig, IndexConfig
from aicockpit.context.documents import DocumentStore
from aicockpit.context.positions import Position
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.generation import Priority
from aicockpit.prompt.assemble import PromptAssembler
from aicockpit.telemetry import Telemetry
from tests.unit.test_scheduler import FakeHost, ScriptedEngine, settle

URI = "file:///w/long.py"
TEXT = "".join(f"def step_{i:02}(value):\n    return value * {i:04}\n" for i in range(30))
CURSOR = Position(50, 8)


class Embedded(ScriptedEngine):
    embedded = True


class Rig:
    def __init__(self, engine=None, next_edit_head=None, **options) -> None:
        self.engine = engine or Embedded()
        self.documents = DocumentStore()
        self.telemetry = Telemetry()
        self.config = CompletionConfig(**options)
        host = FakeHost(self.engine)
        self.assembler = PromptAssembler(
            self.documents, WorkspaceIndex(IndexConfig()), lambda: AicockpitConfig(completion=self.config)
        )
        self.service = CompletionService(
            self.documents, host, self.telemetry, lambda: self.config, self.assembler
        )
        self.prewarmer = Prewarmer(self.service, host, self.telemetry, lambda: self.config, next_edit_head)
        self.documents.open(URI, "python", 1, TEXT)

    async def serve_chunks(self, count: int) -> None:
        """Answer ``count`` chunk requests, one token each, as the engine does."""
        for i in range(count):
            for _ in range(50):
                if len(self.engine.streams) > i:
                    break
                await settle()
            self.engine.streams[i].send("x", finish=True)
            await settle()


async def test_the_stable_part_of_the_next_prompt_is_prefilled_in_chunks_at_the_lowest_priority():
    rig = Rig()
    rig.prewarmer.cursor_seen(URI, CURSOR)
    await rig.serve_chunks(5)
    streams = rig.engine.streams
    assert len(streams) > 1  # in chunks: a real request never waits for the whole prefill
    prompt = rig.assembler.build(
        rig.documents.get(URI), rig.documents.get(URI).lines.offset(CURSOR), rig.engine
    )
    for stream in streams:
        request = stream.request
        assert request.priority is Priority.PREWARM and request.max_tokens == 1
        assert prompt.text.startswith(request.prompt)  # each chunk is the start of the real prompt
    assert streams[-1].request.prompt == prompt.stable  # up to the cursor's line
    assert prompt.stable.endswith("\n") and len(prompt.stable) < len(prompt.text)
    assert rig.prewarmer.last["outcome"] == "served" and not rig.prewarmer.status()["running"]
    # The same part of the document again: nothing more to do.
    rig.prewarmer.cursor_seen(URI, Position(CURSOR.line + 1, 0))
    await settle()
    assert len(rig.engine.streams) == len(streams)


async def test_a_real_request_stops_it_at_once():
    rig = Rig()
    rig.prewarmer.cursor_seen(URI, CURSOR)
    await rig.serve_chunks(1)
    await settle()
    assert len(rig.engine.streams) == 2 and not rig.engine.streams[1].closed
    rig.prewarmer.yield_now()  # the router's listener: a completion, an edit or chat starts
    await settle()
    assert rig.engine.streams[1].aborted  # the chunk in the engine is aborted, no next one starts
    assert len(rig.engine.streams) == 2
    assert rig.prewarmer.last["outcome"] == "yielded" and rig.prewarmer.last["chunks"] == 1


async def test_closing_the_document_cancels_it_and_a_newer_one_replaces_it():
    rig = Rig()
    rig.prewarmer.cursor_seen(URI, CURSOR)
    await settle()
    other = "file:///w/other.py"
    rig.documents.open(other, "python", 1, TEXT)
    rig.prewarmer.cursor_seen(other, CURSOR)  # one at a time in all
    await settle()
    assert rig.engine.streams[0].aborted and rig.prewarmer.outcomes["replaced"] == 1
    rig.prewarmer.forget(other)
    await settle()
    assert rig.engine.streams[1].aborted and rig.prewarmer.outcomes["cancelled"] == 1
    assert not rig.prewarmer.status()["running"]


async def test_a_reopened_document_is_warmed_where_its_cursor_was_and_a_remote_backend_never():
    rig = Rig()
    rig.prewarmer.served(URI, CURSOR)  # a completion there warmed it itself
    rig.prewarmer.cursor_seen(URI, CURSOR)
    await settle()
    assert rig.engine.streams == []
    rig.prewarmer.opened(URI)  # closed and opened again: the last cursor is warmed
    await settle()
    assert len(rig.engine.streams) == 1

    remote = Rig(engine=ScriptedEngine())  # not embedded
    remote.prewarmer.cursor_seen(URI, CURSOR)
    await asyncio.sleep(0)
    await settle()
    assert remote.engine.streams == [] and remote.prewarmer.last["outcome"] == "remote"
    off = Rig(prewarm=False)
    off.prewarmer.cursor_seen(URI, CURSOR)
    await settle()
    assert off.engine.streams == []


async def test_the_next_edits_prompt_head_is_warmed_after_the_completions():
    head = "### Instruction:\nRewrite...\n" * 40  # its instruction and the recent edits
    asked = []

    def next_edit_head(uri, position):
        asked.append((uri, position))
        return rig.engine, head

    rig = Rig(next_edit_head=next_edit_head)
    rig.prewarmer.cursor_seen(URI, CURSOR)
    for _ in range(200):  # every chunk of both prompts, answered as it comes
        for stream in rig.engine.streams:
            if not stream.closed and stream.queue.empty():
                stream.send("x", finish=True)
        await settle()
        if rig.prewarmer.last is not None:
            break
    prompts = [stream.request.prompt for stream in rig.engine.streams]
    assert asked == [(URI, CURSOR)] and prompts[-1] == head
    first_head = next(i for i, p in enumerate(prompts) if head.startswith(p) and p.startswith("### "))
    assert all(not p.startswith("### ") for p in prompts[:first_head])  # the completion's first
    last = rig.prewarmer.last
    assert last["outcome"] == "served" and last["next_edit_chunks"] == last["next_edit_chunk_ends"] >= 1
