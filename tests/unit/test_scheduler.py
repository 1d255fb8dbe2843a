"""CompletionScheduler with a fake clock and a scripted engine: supersede, reuse, typing-through, deadline."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import msgspec
import pytest

from aicockpit.completion.scheduler import CompletionScheduler
from aicockpit.completion.service import CompletionService
from aicockpit.config import AicockpitConfig, CompletionConfig, IndexConfig
from aicockpit.context.documents import DocumentStore, TextChange
from aicockpit.context.positions import Position
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.generation import GenerationDelta, PromptFormat
from aicockpit.prompt.assemble import PromptAssembler
from aicockpit.prompt.budget import FIXED
from aicockpit.telemetry import Telemetry

URI = "file:///w/calc.py"
TEXT = "def add(a, b):\n    "
END = Position(1, 4)


class FakeClock:
    """Time moves only when a test calls ``advance``."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._sleepers: list = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self.call_later(seconds, lambda: future.done() or future.set_result(None))
        await future

    def call_later(self, seconds: float, callback) -> FakeTimer:
        timer = FakeTimer(callback)
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._seq), timer))
        return timer

    async def advance(self, seconds: float) -> None:
        target = self.t + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            wake, _, timer = heapq.heappop(self._sleepers)
            self.t = max(self.t, wake)
            if not timer.cancelled:
                timer.callback()
            await settle()
        self.t = target
        await settle()


class FakeTimer:
    def __init__(self, callback) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


class CharTokenizer:
    def count(self, text: str) -> int:
        return len(text)

    def head(self, text: str, tokens: int) -> str:
        return text[:tokens]

    def tail(self, text: str, tokens: int) -> str:
        return text[-tokens:] if tokens else ""

    def special_tokens(self) -> set[str]:
        return {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"}


class Stream:
    def __init__(self, request) -> None:
        self.request = request
        self.queue: asyncio.Queue = asyncio.Queue()
        self.generated = 0
        self.closed = False
        self.finished = False

    def send(self, *pieces: str, finish: bool = False) -> None:
        for piece in pieces:
            self.queue.put_nowait(piece)
        if finish:
            self.queue.put_nowait(None)

    @property
    def aborted(self) -> bool:
        return self.closed and not self.finished


class ScriptedEngine:
    """Each generate() call is a Stream the test feeds piece by piece."""

    model_name = "scripted"

    def __init__(self) -> None:
        self.tokenizer = CharTokenizer()
        self.prompt_format = PromptFormat()
        self.streams: list[Stream] = []

    def unfinished_requests(self) -> int:
        return sum(not s.closed for s in self.streams)

    def shutdown(self) -> None:
        pass

    async def generate(self, request):
        stream = Stream(request)
        self.streams.append(stream)
        try:
            while (piece := await stream.queue.get()) is not None:
                stream.generated += 1
                yield GenerationDelta(
                    text=piece, prompt_tokens=40, cached_tokens=32, generated_tokens=stream.generated
                )
            stream.finished = True
            yield GenerationDelta(text="", finished=True, prompt_tokens=40, cached_tokens=32,
                                  generated_tokens=stream.generated)  # fmt: skip
        finally:
            stream.closed = True


class FakeHost:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.warmed = 0

    def warm(self) -> None:
        self.warmed += 1


class Rig:
    def __init__(self, **options) -> None:
        self.clock = FakeClock()
        self.engine = ScriptedEngine()
        self.documents = DocumentStore()
        self.telemetry = Telemetry(clock=self.clock.now)
        options = {"debounce_min_ms": 10, "debounce_max_ms": 150, "timeout_ms": 500, **options}
        self.config = CompletionConfig(**options)
        self.host = host = FakeHost(self.engine)
        # The real prompt assembler, with an index of no folders: prompts as in the server.
        assembler = PromptAssembler(
            self.documents, WorkspaceIndex(IndexConfig()), lambda: AicockpitConfig(completion=self.config)
        )
        service = CompletionService(self.documents, host, self.telemetry, lambda: self.config, assembler)
        self.scheduler = CompletionScheduler(
            service, self.documents, host, self.telemetry, lambda: self.config, self.clock
        )
        self.version = 1
        # Plain text: these tests are about scheduling, not the syntax check of suggestions.
        self.documents.open(URI, "plaintext", self.version, TEXT)

    def type(self, text: str, gap_s: float = 0.0) -> Position:
        """Type ``text`` at the end of the document (the clock moves by ``gap_s`` first)."""
        self.clock.t += gap_s
        doc = self.documents.get(URI)
        end = doc.lines.position(len(doc.text))
        self.version += 1
        self.documents.change(URI, self.version, [TextChange(text, end, end)])
        self.scheduler.note_change(URI)
        doc = self.documents.get(URI)
        return doc.lines.position(len(doc.text))

    async def request(self, position: Position = END, channel: str = "inline") -> asyncio.Task:
        """Start a request and let it run up to its first wait."""
        task = asyncio.ensure_future(self.scheduler.complete(URI, position, channel=channel))
        await settle()
        return task

    def outcomes(self) -> dict[str, int]:
        return dict(self.telemetry.outcomes)


async def test_a_burst_of_requests_reaches_the_engine_once():
    rig = Rig()
    for _ in range(5):
        rig.type("x", gap_s=0.04)  # a fast rhythm: the debounce waits for the next key
    assert rig.scheduler.debounce_s(URI) == pytest.approx(0.08)
    tasks = []
    for ch in "yz":
        tasks.append(await rig.request(rig.type(ch, gap_s=0.04)))
        await settle()
        await rig.clock.advance(0.04)  # the next key comes before the debounce ends
    assert rig.engine.streams == []
    assert await tasks[0] is None  # superseded before it reached the engine
    await rig.clock.advance(0.04)
    assert len(rig.engine.streams) == 1
    rig.engine.streams[0].send(" = 1", finish=True)  # after the typed word "xxxxxyz"
    suggestion = await tasks[1]
    assert suggestion is not None and suggestion.text == " = 1"
    assert rig.outcomes() == {"superseded": 1, "served": 1}


async def test_the_debounce_adapts_to_the_typing_rhythm():
    rig = Rig()
    assert rig.scheduler.debounce_s(URI) == pytest.approx(0.01)  # no rhythm yet: the minimum
    for _ in range(6):
        rig.type("x", gap_s=0.05)
    assert rig.scheduler.debounce_s(URI) == pytest.approx(0.1)
    rig.type("x", gap_s=0.65)  # a short pause between two bursts does not change the rhythm
    rig.type("x", gap_s=0.05)
    assert rig.scheduler.debounce_s(URI) == pytest.approx(0.1)
    for _ in range(10):
        rig.type("x", gap_s=0.4)  # slow typing: the next key is far, do not wait for it
    assert rig.scheduler.debounce_s(URI) == pytest.approx(0.01)
    rig.type("x", gap_s=5.0)  # a pause is not part of the rhythm
    assert rig.scheduler.debounce_s(URI) == pytest.approx(0.01)


async def test_a_new_request_aborts_the_running_generation_it_cannot_reuse():
    rig = Rig()
    first = await rig.request()
    await rig.clock.advance(0.01)
    stream = rig.engine.streams[0]
    stream.send("retu", "rn")
    await settle()
    second = await rig.request(rig.type("pass"))  # not what the model wrote
    await settle()
    assert stream.aborted
    assert await first is None
    await rig.clock.advance(0.01)
    rig.engine.streams[1].send("  # ok", finish=True)
    assert (await second).text == "  # ok"
    summary = rig.telemetry.summary()
    assert summary["outcomes"] == {"superseded": 1, "served": 1}
    assert summary["wasted_tokens"] == 2 and summary["wasted_by_reason"] == {"superseded": 2}


async def test_typing_what_the_model_is_writing_attaches_to_the_running_generation():
    rig = Rig()
    first = await rig.request()
    await rig.clock.advance(0.01)
    stream = rig.engine.streams[0]
    stream.send("ret", "urn a")
    await settle()
    second = await rig.request(rig.type("re"))
    await settle()
    assert not stream.closed and len(rig.engine.streams) == 1
    stream.send(" + b", finish=True)
    suggestion = await second
    assert suggestion.text == "turn a + b"
    assert suggestion.position == Position(1, 6)
    assert await first is None  # its text no longer exists
    assert rig.outcomes() == {"superseded": 1, "reused": 1}
    assert rig.telemetry.wasted_tokens == 0


async def test_typing_through_a_shown_suggestion_is_answered_from_the_cache():
    rig = Rig()
    first = await rig.request()
    await rig.clock.advance(0.01)
    rig.engine.streams[0].send("return a + b", finish=True)
    assert (await first).text == "return a + b"
    for typed in ("r", "e", "t"):
        suggestion = await (await rig.request(rig.type(typed, gap_s=0.2)))
    assert suggestion.text == "urn a + b"
    assert len(rig.engine.streams) == 1
    # Typing something else leaves the cache: the engine is asked again.
    other = await rig.request(rig.type("X", gap_s=0.2))
    await rig.clock.advance(0.01)
    assert len(rig.engine.streams) == 2
    rig.engine.streams[1].send("yz", finish=True)
    assert (await other).text == "yz"
    assert rig.outcomes() == {"served": 2, "cache_hit": 3}
    assert rig.telemetry.summary()["cache_hit_rate"] == 0.6


async def test_the_cache_needs_the_rest_of_the_document_unchanged():
    rig = Rig()
    first = await rig.request()
    await rig.clock.advance(0.01)
    rig.engine.streams[0].send("return a + b", finish=True)
    await first
    rig.version += 1
    rig.documents.change(URI, rig.version, [TextChange("# note\n", Position(0, 0), Position(0, 0))])
    task = await rig.request(Position(2, 4))
    await rig.clock.advance(0.01)
    assert len(rig.engine.streams) == 2  # the text above changed: no cached answer
    rig.engine.streams[1].send("pass", finish=True)
    assert (await task).text == "pass"


async def test_at_the_deadline_the_answer_is_what_is_ready():
    rig = Rig(timeout_ms=500)
    task = await rig.request()
    await rig.clock.advance(0.01)
    stream = rig.engine.streams[0]
    stream.send("return", " a")
    await rig.clock.advance(0.3)
    assert not task.done()
    await rig.clock.advance(0.2)
    suggestion = await task
    assert suggestion.text == "return a"
    assert stream.aborted
    assert rig.outcomes() == {"timed_out": 1}
    assert rig.telemetry.wasted_by_reason == {"timed_out": 2}


async def test_a_deadline_missed_before_the_first_token_lets_the_prefill_finish_then_stops():
    """The engine keeps the KV blocks it computed: the next request here starts from the cache."""
    rig = Rig(timeout_ms=500)
    task = await rig.request()
    await rig.clock.advance(0.6)  # the prompt's prefill takes longer than the deadline
    assert await task is None and rig.outcomes() == {"timed_out": 1}
    stream = rig.engine.streams[0]
    assert not stream.closed  # not aborted: its prefill goes on
    stream.send("ret")  # the first token: the prompt is in the cache now
    await settle()
    assert stream.aborted  # and nothing more is generated for nobody
    assert rig.telemetry.wasted_by_reason == {"timed_out": 1}


async def test_a_request_at_the_same_place_attaches_to_a_generation_finishing_its_prefill():
    rig = Rig(timeout_ms=500)
    first = await rig.request()
    await rig.clock.advance(0.6)
    assert await first is None
    second = await rig.request()  # the user asks again, at the same place
    stream = rig.engine.streams[0]
    stream.send("return", " a", finish=True)
    suggestion = await second
    assert suggestion.text == "return a" and len(rig.engine.streams) == 1  # no second prefill
    assert not stream.aborted


async def test_a_request_attaching_to_a_generation_gets_the_deadline_of_the_settings_now():
    rig = Rig(timeout_ms=500)
    first = await rig.request()
    await rig.clock.advance(0.6)
    assert await first is None  # missed its 500 ms; the generation runs on to its first token
    rig.config = CompletionConfig(**{**msgspec.structs.asdict(rig.config), "timeout_ms": 30000})
    second = await rig.request()
    await rig.clock.advance(1.0)  # past the old deadline, well within the new one
    assert not second.done()
    rig.engine.streams[0].send("return", " a", finish=True)
    assert (await second).text == "return a"


async def test_the_debounce_counts_from_the_requests_arrival():
    """The request waited 30 ms in the server (behind the didChange read with it): the 100 ms
    debounce has 70 ms left when its handler starts."""
    rig = Rig(debounce_min_ms=100, debounce_max_ms=100)
    arrived = rig.clock.now()
    await rig.clock.advance(0.03)
    task = asyncio.ensure_future(rig.scheduler.complete(URI, END, received_at=arrived))
    await settle()
    await rig.clock.advance(0.069)
    assert rig.engine.streams == []
    await rig.clock.advance(0.002)
    assert len(rig.engine.streams) == 1
    rig.engine.streams[0].send("pass", finish=True)
    assert (await task).text == "pass"
    marks = rig.telemetry.recent("completion", 1)[0].marks
    assert marks["received"] == 0 and marks["handler_started"] == pytest.approx(30)
    assert marks["debounce_end"] == pytest.approx(100, abs=2)


async def test_an_invoked_request_skips_the_debounce():
    rig = Rig(debounce_min_ms=100)
    task = asyncio.ensure_future(rig.scheduler.complete(URI, END, invoked=True))
    await settle()
    assert len(rig.engine.streams) == 1  # no wait for a next key: the user asked
    rig.engine.streams[0].send("pass", finish=True)
    assert (await task).text == "pass"


async def test_generation_stops_once_the_block_has_ended():
    rig = Rig()
    task = await rig.request()
    await rig.clock.advance(0.01)
    stream = rig.engine.streams[0]
    stream.send("total = a + b\n", "    return total\n", "x", "y = 1\n", "z")
    await settle()
    assert stream.aborted  # a line left the function's block: no more tokens needed
    suggestion = await task
    assert suggestion.text == "total = a + b\n    return total"
    assert stream.queue.qsize() == 2  # the unindented "x" was enough: the rest was never asked for
    summary = rig.telemetry.summary()
    assert summary["early_stops"] == 1
    assert summary["early_stop_saved_tokens"] == FIXED.max_tokens - 3  # at most: 3 of max_tokens written


class LingeringEngine(ScriptedEngine):
    """After its last delta, a stream still has work (a remote one: the body's end, the usage row)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def generate(self, request):
        async for delta in super().generate(request):
            yield delta
            if delta.finished:
                await self.release.wait()


async def test_the_answer_goes_out_before_the_stream_winds_down():
    rig = Rig()
    rig.engine = engine = LingeringEngine()
    rig.scheduler._host = rig.scheduler._service._host = FakeHost(engine)
    task = await rig.request()
    await rig.clock.advance(0.01)
    stream = engine.streams[0]
    stream.send("return a + b", finish=True)
    await settle()
    assert task.done() and (await task).text == "return a + b"  # answered while the stream lingers
    assert not stream.closed
    engine.release.set()
    await settle()
    assert stream.closed and stream.finished  # read to its end afterwards, not aborted
    assert rig.outcomes() == {"served": 1}


async def test_a_keystroke_warms_the_engine_source():
    """Each keystroke asks the source to connect ahead (the router: a remote backend's idle
    connection; test_routing.py checks which backend)."""
    rig = Rig()
    rig.type("x")
    rig.type("y")
    assert rig.host.warmed == 2


async def test_a_cancelled_request_leaves_its_generation_for_the_next_keystroke():
    rig = Rig(orphan_grace_ms=100)
    first = await rig.request()
    await rig.clock.advance(0.01)
    stream = rig.engine.streams[0]
    stream.send("return a")
    await settle()
    first.cancel()  # the editor cancels before it sends the next request
    await settle()
    assert not stream.closed
    second = await rig.request(rig.type("r"))
    await settle()
    await rig.clock.advance(0.2)  # past the grace period: still alive, someone waits on it
    assert not stream.closed
    stream.send(" + b", finish=True)
    assert (await second).text == "eturn a + b"
    # Without a next request, the grace period ends and the engine request is aborted.
    third = await rig.request(rig.type("X", gap_s=1))
    await rig.clock.advance(0.01)
    third.cancel()
    await settle()
    assert not rig.engine.streams[1].closed
    await rig.clock.advance(0.1)
    assert rig.engine.streams[1].aborted
    assert rig.outcomes() == {"cancelled": 2, "reused": 1}


async def test_accepting_a_suggestion_prefetches_the_next_one():
    rig = Rig()
    first = await rig.request()
    await rig.clock.advance(0.01)
    rig.engine.streams[0].send("total = a + b", finish=True)
    suggestion = await first
    # The editor inserts the suggestion, then runs the item's command.
    rig.type(suggestion.text)
    assert rig.scheduler.accepted(URI, suggestion.position, suggestion.text)
    await settle()
    assert len(rig.engine.streams) == 2  # no debounce for a prefetch
    rig.engine.streams[1].send("\n    return total", finish=True)
    await settle()
    after = rig.documents.get(URI).lines.position(len(rig.documents.get(URI).text))
    nxt = await (await rig.request(after))
    assert nxt.text == "\n    return total"
    # Enter and the editor's indent: the prefetched lines go on from the cache.
    assert (await (await rig.request(rig.type("\n    ")))).text == "return total"
    assert len(rig.engine.streams) == 2
    assert rig.outcomes() == {"served": 1, "cache_hit": 2}
    assert rig.telemetry.by_kind["prefetch"]["served"] == 1 and rig.telemetry.accepted == 1
    # Text that is not in the document is refused.
    assert not rig.scheduler.accepted(URI, Position(0, 0), "nonsense")


async def test_a_request_after_a_change_without_a_new_request_is_not_answered_stale():
    rig = Rig()
    task = await rig.request()
    await rig.clock.advance(0.01)
    rig.type("q")  # a client that does not send a request per keystroke
    rig.engine.streams[0].send("return a", finish=True)
    assert await task is None
    assert rig.outcomes() == {"superseded": 1}


async def test_inline_and_completion_list_requests_at_one_keystroke_share_one_generation():
    rig = Rig()
    inline = await rig.request()
    listed = await rig.request(channel="completion")  # VS Code asks both at the same keystroke
    await rig.clock.advance(0.01)
    assert len(rig.engine.streams) == 1
    rig.engine.streams[0].send("return a", finish=True)
    assert (await inline).text == (await listed).text == "return a"
    assert rig.outcomes() == {"served": 1, "reused": 1}


async def test_the_warm_up_runs_on_the_embedded_engine_and_never_reaches_a_remote_backend():
    """The role may have moved to a remote profile while the embedded engine loaded: no request
    goes there (it may cost money; its speed comes from real requests)."""
    remote = Rig()  # the scripted engine is not embedded
    await asyncio.wait_for(remote.scheduler.warm_up(), 5)  # a request sent would wait for an answer
    assert remote.engine.streams == [] and remote.scheduler.warmup == "skipped"

    embedded = Rig()
    embedded.engine.embedded = True
    warming = asyncio.ensure_future(embedded.scheduler.warm_up())
    for cold_then_cached in range(2):
        await settle()
        assert embedded.scheduler.warmup == "running"
        embedded.engine.streams[cold_then_cached].send("x", finish=True)
    await warming
    assert len(embedded.engine.streams) == 2 and embedded.scheduler.warmup == "done"
