"""Schedules ghost-text requests per document, in front of ``CompletionService``.

Keystroke to ghost text, in order (each step can answer early):

1. typing-through cache: the user typed the start of a suggestion still shown;
   answer with the rest, no engine call;
2. in-flight reuse: a generation already running for this document was started
   at a cursor the new one extends, and it has generated what the user typed;
   wait for it instead of starting another;
3. supersede: any other generation of this document is aborted in the engine,
   and older requests still waiting are answered (empty) at once;
4. build the prompt while a debounce, adapted to the user's typing rhythm,
   waits for the next key; then start one engine request (a ``Flight``),
   which stops early as soon as post-processing knows where the suggestion ends;
5. a deadline per request (the setting, else sized to the prompt on the
   measured machine: prompt/budget.py): at the deadline, answer with what is
   ready. A generation that missed it with nobody else waiting runs on until its
   prompt is prefilled (its first token), then stops: vLLM keeps the KV blocks it
   computed, so the next request at that place starts from the prefix cache
   instead of from nothing.

Accepting a suggestion (the item's command) prefetches the next one, and the
engine is warmed up once it is ready: two short generations that measure its
prefill and decode speed, which the budgets are sized from. Every request leaves a ``RequestTrace``.
All times come from a ``Clock`` so the unit tests can drive time by hand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aicockpit.background import spawn
from aicockpit.completion.cache import SuggestionCache
from aicockpit.completion.postprocess import cursor_shape, suggestion_settled
from aicockpit.completion.service import CompletionService, Cursor, PreparedCompletion, Suggestion
from aicockpit.config import CompletionConfig
from aicockpit.context.documents import DocumentStore, TextDocument, UnknownDocument
from aicockpit.context.positions import Position
from aicockpit.engine.base import BackendError, Engine, EngineSource, EngineUnavailable
from aicockpit.engine.collect import Generated, generate_text
from aicockpit.generation import GenerationDelta
from aicockpit.lanes import Lanes, Ticket
from aicockpit.telemetry import RequestTrace, Telemetry
from aicockpit.waiting import Clock, Signal, first_of

log = logging.getLogger(__name__)

PAUSE_S = 1.0  # a gap longer than this is a pause, not typing rhythm
RHYTHM_GAPS = 8  # the rhythm is the median of this many recent gaps (robust to a pause or two)
DEBOUNCE_FACTOR = 2.0  # wait this many typical gaps for the next keystroke (few keys of a burst leak)
# Warm-up: a synthetic module of about 400 tokens, prefilled cold and then again from the
# cache: the first figures of the engine's prefill and decode speed.
WARMUP_TEXT = (
    "".join(
        f"def step_{i}(value, scale={i}):\n    total = value * scale + {i * 7}\n    return total - {i}\n\n"
        for i in range(16)
    )
    + "def add(a, b):\n    "
)
WARMUP_TOKENS = 8
# A sleep ends late: asyncio rounds the poll timeout up to the next millisecond
# (0-1 ms, depending on where the wait starts) and waking takes ~0.4 ms more. The
# debounce aims 1 ms early, so that on average its wait ends when intended.
TIMER_LATE_S = 0.001


WARMUP_WAIT_TRIES = 60  # x 0.5 s
LANES = ("inline", "completion")  # the requests' channels: ghost text, and the list fallback


@dataclass(eq=False)
class Flight:
    """One engine generation for one cursor; several requests may wait on it."""

    prepared: PreparedCompletion
    kind: str
    raw: str = ""
    waiters: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    sent_at: float | None = None  # the request went out to a remote backend (None: embedded)
    first_token_at: float | None = None
    finished_at: float | None = None  # when the output that ended it arrived (else when it ended)
    stopped_early: bool = False
    truncated: bool = False  # max_tokens cut the output
    # Nobody waits any more, but the prompt's prefill goes on to its end (then the
    # generation stops): the next request at this place finds it in the prefix cache.
    prefill_only: bool = False
    abort_reason: str | None = None
    error: str | None = None  # the engine or backend failed: nothing it streamed is served
    shaped: str | None = None  # the post-processed output, once done
    done: Signal = field(default_factory=Signal)
    task: asyncio.Task[None] | None = None

    @property
    def cursor(self) -> Cursor:
        return self.prepared.cursor

    def abort(self, reason: str) -> None:
        """Stop the generation inside the engine (closing its stream aborts the engine request)."""
        if self.task is not None and not self.done.is_set() and self.abort_reason is None:
            self.abort_reason = reason
            self.task.cancel()

    def typed_since(self, cursor: Cursor) -> str | None:
        """What the user typed at this flight's cursor to reach ``cursor``, if that is all that changed."""
        mine = self.cursor
        typed = cursor.offset - mine.offset
        if typed < 0 or len(cursor.text) - cursor.offset != len(mine.text) - mine.offset:
            return None
        if not (
            cursor.text.startswith(mine.text[: mine.offset])
            and cursor.text.endswith(mine.text[mine.offset :])
        ):
            return None
        return cursor.text[mine.offset : cursor.offset]


@dataclass
class _DocumentState:
    cache: SuggestionCache = field(default_factory=SuggestionCache)
    flight: Flight | None = None
    last_change: float | None = None
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=RHYTHM_GAPS))  # seconds


class CompletionScheduler:
    def __init__(
        self,
        service: CompletionService,
        documents: DocumentStore,
        host: EngineSource,
        telemetry: Telemetry,
        settings: Callable[[], CompletionConfig],
        clock: Clock | None = None,
        lanes: Lanes | None = None,
    ) -> None:
        self._service = service
        self._documents = documents
        self._host = host
        self._telemetry = telemetry
        self._settings = settings
        self._clock = clock or Clock()
        self._lanes = lanes or Lanes(self._clock)
        self._docs: dict[str, _DocumentState] = {}
        self.warmup = "pending"  # then running, done, failed; or off, or skipped (a remote backend)

    # -- document events -------------------------------------------------

    def note_change(self, uri: str) -> None:
        """A keystroke (didChange): feeds the typing rhythm the debounce adapts to."""
        state = self._state(uri)
        now = self._clock.now()
        if state.last_change is not None:
            gap = now - state.last_change
            if gap < PAUSE_S:
                state.gaps.append(gap)
        state.last_change = now
        self._host.warm()  # a remote backend's connection may have gone idle: open one now

    def forget(self, uri: str) -> None:
        """The document closed: drop its cache and stop its work."""
        for lane in LANES:
            self._lanes.forget(uri, lane)
        state = self._docs.pop(uri, None)
        if state is not None and state.flight is not None:
            state.flight.abort("cancelled")

    def reset(self) -> None:
        """Another model now serves completions: suggestions of the old one are not reused."""
        for uri in list(self._docs):
            self.forget(uri)

    def debounce_s(self, uri: str) -> float:
        """Wait two typical gaps for the next keystroke, when one is likely to come soon.

        A slow typist (or no rhythm yet) waits only the minimum: the next key
        is not coming soon, and waiting would only add latency.
        """
        config = self._settings()
        low, high = config.debounce_min_ms / 1000, config.debounce_max_ms / 1000
        gaps = self._state(uri).gaps
        if not gaps:
            return low
        wait = DEBOUNCE_FACTOR * statistics.median(gaps)
        return low if wait > high else max(low, wait)

    # -- requests ----------------------------------------------------------

    async def complete(
        self,
        uri: str,
        position: Position,
        tag: str | None = None,
        channel: str = "inline",
        invoked: bool = False,
        received_at: float | None = None,
    ) -> Suggestion | None:
        """One suggestion; ``channel`` keeps inline and completion-list requests from superseding each other.

        Editors such as VS Code ask both at the same keystroke: they share the
        cache and the generation instead of cancelling one another. ``invoked``:
        the user asked (a key, not typing): no debounce, and a longer deadline.
        ``received_at`` (clock seconds): when the request arrived; its debounce and deadline
        count from there, so the keystroke's own handling overlaps the wait for the next one.
        """
        trace = self._telemetry.start("completion", tag, received_at)
        trace.engine_accounted = True
        state = self._state(uri)
        ticket = self._lanes.take(uri, channel)  # older requests of this lane answer now, empty
        try:
            suggestion, outcome = await self._complete(uri, position, state, ticket, trace, invoked)
        except asyncio.CancelledError:
            self._telemetry.finish(trace, "cancelled")
            raise
        except Exception:
            log.exception("completion failed")
            self._telemetry.finish(trace, "error")
            return None
        finally:
            self._lanes.release(ticket)
        self._telemetry.finish(trace, outcome)
        return suggestion

    async def _complete(
        self,
        uri: str,
        position: Position,
        state: _DocumentState,
        ticket: Ticket,
        trace: RequestTrace,
        invoked: bool,
    ) -> tuple[Suggestion | None, str]:
        cursor, outcome = self._service.locate(uri, position)
        if cursor is None:
            return None, outcome
        try:
            engine = self._host.engine  # while the role loads or switches profile, nothing is served,
        except EngineUnavailable:  # not even from the cache of the profile being left
            return None, "engine_unavailable"
        early = await self._answer_early(state, cursor, ticket, trace, invoked)
        if early is not None:
            return early
        # 4. debounce. The prompt is built while the debounce waits for the next key:
        # that time is spent anyway, and a superseded prompt costs only CPU.
        wait = 0.0 if invoked else self.debounce_s(uri)
        debounce_end = trace.started + wait
        prepared = self._service.prepare(cursor, engine)
        if prepared is None:
            return None, "secret_file"
        trace.context = prepared.context
        trace.mark("context_built")
        remaining = debounce_end - self._clock.now() - TIMER_LATE_S
        if not await self._lanes.settle(ticket, remaining):
            return None, "superseded"
        trace.debounce_ms = wait * 1000
        trace.mark("debounce_end")
        # Re-check: the text may have changed, or a request of the other channel
        # may have started a generation this one can share.
        if not self._is_current(cursor):
            return None, "superseded"
        early = await self._answer_early(state, cursor, ticket, trace, invoked)
        if early is not None:
            return early
        try:
            engine = self._host.engine  # a profile switch may have begun during the wait
        except EngineUnavailable:
            return None, "engine_unavailable"
        flight = self._launch(prepared, engine, "completion", state)
        trace.mark("engine_enqueued")
        deadline = self._deadline(trace, prepared, invoked)
        return await self._await_flight(flight, cursor, "", ticket, trace, deadline, "served")

    def _deadline(self, trace: RequestTrace, prepared: PreparedCompletion, invoked: bool) -> float:
        """When this request answers with what is ready (clock seconds)."""
        return trace.started + self._service.deadline_ms(prepared, invoked) / 1000

    async def _answer_early(
        self, state: _DocumentState, cursor: Cursor, ticket: Ticket, trace: RequestTrace, invoked: bool
    ) -> tuple[Suggestion | None, str] | None:
        """Steps 1-3: answer from the cache or a running generation, else abort that generation."""
        rest = state.cache.lookup(cursor)
        if rest is not None:
            return Suggestion(rest, cursor.position, cursor.version, trace), "cache_hit"
        flight = state.flight
        if flight is None or flight.done.is_set() or flight.abort_reason is not None:
            return None
        typed = flight.typed_since(cursor)
        if typed is not None and flight.raw.startswith(typed):
            trace.mark("attached")
            deadline = self._deadline(trace, flight.prepared, invoked)
            return await self._await_flight(flight, cursor, typed, ticket, trace, deadline, "reused")
        flight.abort("superseded")  # this document's other generation is of no use any more
        return None

    async def _await_flight(
        self,
        flight: Flight,
        cursor: Cursor,
        typed: str,
        ticket: Ticket,
        trace: RequestTrace,
        deadline: float,
        outcome: str,
    ) -> tuple[Suggestion | None, str]:
        """Wait for ``flight`` (until the deadline, or until superseded) and answer from its output."""
        flight.waiters += 1
        flight.prefill_only = False  # someone waits for its text again
        attached_at = self._clock.now()
        orphan_reason = "cancelled"
        try:
            fired = await first_of(
                self._clock, [flight.done, ticket.superseded], max(0.0, deadline - self._clock.now())
            )
            if fired is ticket.superseded and not flight.done.is_set():
                orphan_reason = "superseded"
                return None, "superseded"
            if fired is None:
                outcome = orphan_reason = "timed_out"
            trace.prompt_tokens, trace.cached_tokens = flight.prompt_tokens, flight.cached_tokens
            trace.generated_tokens = flight.generated_tokens
            # The engine's time ends with its stream, not when this request wakes up.
            finished = self._clock.now()
            if flight.done.is_set() and flight.finished_at is not None:
                finished = max(attached_at, flight.finished_at)
            # A remote backend's time starts when the request is on the wire: the HTTP
            # client's work before that is the server's own.
            begun = attached_at if flight.sent_at is None else min(finished, max(attached_at, flight.sent_at))
            trace.engine_ms = (finished - begun) * 1000
            if flight.sent_at is not None and flight.sent_at >= trace.started:
                trace.mark("request_sent", flight.sent_at)
            if flight.first_token_at is not None and flight.first_token_at >= trace.started:
                trace.mark("first_token", flight.first_token_at)
            trace.mark("last_token", finished)
            if flight.abort_reason is not None and fired is not None:
                return None, flight.abort_reason  # aborted under us (document closed)
            if flight.error is not None:
                return None, "error"  # a stream that broke off is not a suggestion
            shaped = self._shape(flight)
            trace.mark("post_processed")
            if (state := self._docs.get(cursor.uri)) is not None:
                state.cache.add(flight.cursor, shaped)  # what the user sees; they may type through it
            if not shaped.startswith(typed) or not shaped[len(typed) :].strip():
                return None, "empty" if outcome != "timed_out" else outcome
            if not self._is_current(cursor):
                # The user typed on while we waited: this text no longer exists. The
                # cache keeps the suggestion for the request that follows.
                return None, "superseded"
            return Suggestion(shaped[len(typed) :], cursor.position, cursor.version, trace), outcome
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.done.is_set():
                self._orphaned(flight, orphan_reason)

    def _orphaned(self, flight: Flight, reason: str) -> None:
        """Nobody waits for ``flight`` any more.

        A timed-out flight stops as soon as its prompt is prefilled (at once if it
        is): what the engine computed stays in its prefix cache for the next request
        here. A cancelled or superseded one lives on for a short grace period:
        editors cancel the previous request before sending the next one, which may
        well be able to reuse this generation.
        """
        if reason == "timed_out":
            if flight.first_token_at is not None:
                flight.abort(reason)
            else:
                flight.prefill_only = True
            return
        grace = self._settings().orphan_grace_ms / 1000
        if grace <= 0:
            flight.abort(reason)
            return

        async def abort_later() -> None:
            await self._clock.sleep(grace)
            if flight.waiters == 0:
                flight.abort(reason)

        spawn(abort_later(), name="completion orphan grace")

    def _launch(
        self, prepared: PreparedCompletion, engine: Engine, kind: str, state: _DocumentState | None
    ) -> Flight:
        flight = Flight(prepared, kind)
        if state is not None:
            state.flight = flight
        self._telemetry.engine_started(kind)
        flight.task = spawn(self._run(flight, engine, state), name=f"{kind} generation")
        return flight

    async def _run(self, flight: Flight, engine: Engine, state: _DocumentState | None) -> None:
        cursor, suffix = flight.cursor, flight.prepared.suffix

        def on_delta(delta: GenerationDelta, so_far: Generated) -> bool:
            flight.sent_at, flight.first_token_at = so_far.sent_at, so_far.first_at
            flight.prompt_tokens, flight.cached_tokens = so_far.prompt_tokens, so_far.cached_tokens
            flight.generated_tokens = so_far.completion_tokens
            if flight.prefill_only and flight.waiters == 0:
                # The deadline passed with nobody waiting: the prompt is in the cache now.
                flight.abort_reason = "timed_out"
                return False
            flight.raw, flight.truncated = so_far.text, so_far.truncated
            if not delta.finished and suggestion_settled(flight.raw, cursor.shape, suffix):
                # Post-processing would cut here anyway: stop paying for tokens.
                flight.stopped_early = True
                return False
            return True

        try:
            generated = await generate_text(engine, flight.prepared.request, on_delta, self._clock.now)
            flight.finished_at = generated.last_at
        except asyncio.CancelledError:
            if flight.abort_reason is None:
                flight.abort_reason = "cancelled"  # the server is stopping
            raise
        except BackendError as err:
            log.warning("completion generation failed: %s", err)
            flight.error = str(err)
        except Exception as err:
            log.exception("generation failed")
            flight.error = f"{type(err).__name__}: {err}"
        finally:
            if flight.finished_at is None:
                flight.finished_at = self._clock.now()
            flight.done.set()  # the waiting requests answer in the next loop turn, before the wind-down
            if flight.stopped_early:
                self._telemetry.early_stopped(flight.prepared.request.max_tokens - flight.generated_tokens)
            self._telemetry.engine_work(
                flight.prompt_tokens, flight.cached_tokens, flight.generated_tokens, flight.abort_reason
            )
        # Nobody waits (a prefetch, or a request that moved on): cache it for the next
        # request. A waiting request caches what it post-processes for its answer.
        if state is not None and flight.waiters == 0 and flight.abort_reason is None and flight.error is None:
            state.cache.add(cursor, self._shape(flight))

    def _shape(self, flight: Flight) -> str:
        """Post-process the flight's output; once it is done, once for all its users.

        Post-processing parses the document with the suggestion in it (1-2 ms on a
        large file), and the cache and every waiting request want the result.
        """
        if not flight.done.is_set():
            return self._service.shape(flight.raw, flight.prepared)
        if flight.shaped is None:
            flight.shaped = self._service.shape(flight.raw, flight.prepared, flight.truncated)
        return flight.shaped

    def _is_current(self, cursor: Cursor) -> bool:
        try:
            return self._documents.get(cursor.uri).version == cursor.version
        except UnknownDocument:
            return False

    # -- acceptance and warm-up ------------------------------------------

    def accepted(self, uri: str, position: Position, text: str) -> bool:
        """The editor inserted ``text`` at ``position``: prefetch the suggestion that comes next.

        Returns whether a prefetch started (the text must be in the document as said).
        """
        self._telemetry.accepted += 1
        config = self._settings()
        if not config.prefetch:
            return False
        start, _ = self._service.locate(uri, position)
        if start is None or not start.text.startswith(text, start.offset):
            return False
        end = self._documents.get(uri).lines.position(start.offset + len(text))
        cursor, _ = self._service.locate(uri, end)
        try:
            engine = self._host.engine
        except EngineUnavailable:
            return False
        if cursor is None or cursor.shape.line_after.strip():
            return False  # accepting mid-line: the next suggestion is not at the end of it
        # What comes next usually starts on the next line: ask for several lines, so
        # that after Enter (and the editor's indent) the cache serves the rest.
        cursor = dataclasses.replace(cursor, shape=dataclasses.replace(cursor.shape, multiline=True))
        state = self._state(uri)
        if state.cache.lookup(cursor) is not None:
            return False  # the accepted suggestion already goes on
        if state.flight is not None:
            state.flight.abort("superseded")
        trace = self._telemetry.start("prefetch")
        trace.engine_accounted = True
        prepared = self._service.prepare(cursor, engine)
        if prepared is None:
            self._telemetry.finish(trace, "secret_file")
            return False
        trace.context = prepared.context
        trace.mark("context_built")
        flight = self._launch(prepared, engine, "prefetch", state)
        trace.mark("engine_enqueued")

        async def finish() -> None:
            await flight.done.wait()
            trace.generated_tokens = flight.generated_tokens
            trace.mark("last_token")
            self._telemetry.finish(trace, flight.abort_reason or "served")

        spawn(finish(), name="prefetch trace")
        return True

    async def warm_up(self) -> None:
        """Once the engine is ready: a cold and a cached generation, so that its speed is measured
        (the router records both) before the first keystroke, and the first one is not cold."""
        for _ in range(WARMUP_WAIT_TRIES):
            try:
                engine = self._host.engine
                break
            except EngineUnavailable:  # e.g. the role is still finishing a profile switch
                await asyncio.sleep(0.5)
        else:
            self.warmup = "failed"
            return
        if not getattr(engine, "embedded", False):
            # The role moved to a remote profile while the embedded engine loaded: a remote
            # backend's speed comes from real requests, and each request there may cost money.
            self.warmup = "skipped"
            return
        self.warmup = "running"
        trace = self._telemetry.start("warmup")
        trace.engine_accounted = True
        shape = cursor_shape(WARMUP_TEXT.rsplit("\n", 1)[-1], "", "auto")
        doc = TextDocument("aicockpit:warmup", "python", 0, WARMUP_TEXT)
        at = doc.lines.position(len(WARMUP_TEXT))
        cursor = Cursor(doc.uri, "python", 0, WARMUP_TEXT, len(WARMUP_TEXT), at, shape, doc)
        generated = 0
        outcome = "served"
        # Cold, then the same prompt from the prefix cache: prefill speed, decode speed, fixed cost.
        for max_tokens in (WARMUP_TOKENS, 1):
            prepared = self._service.prepare(cursor, engine, max_tokens=max_tokens)
            if prepared is None:
                outcome = "error"
                break
            flight = self._launch(prepared, engine, "warmup", None)
            await flight.done.wait()
            generated += flight.generated_tokens
            if flight.abort_reason is not None or flight.error is not None or not flight.generated_tokens:
                outcome = flight.abort_reason or "error"
                break
        self.warmup = "done" if outcome == "served" else "failed"
        trace.generated_tokens = generated
        self._telemetry.finish(trace, outcome)

    # -- housekeeping ------------------------------------------------------

    def _state(self, uri: str) -> _DocumentState:
        state = self._docs.get(uri)
        if state is None:
            state = self._docs[uri] = _DocumentState()
        return state
