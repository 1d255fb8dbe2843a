"""Pre-warming: the prompt of the next completion is prefilled before the user pauses.

On a CPU a cold prompt of a thousand tokens takes seconds; from vLLM's prefix
cache it takes a fraction. When the editor says where the cursor is (the
document is focused, the cursor moves into another anchor block of
``ANCHOR_LINES`` lines: ``aicockpit/didFocus``, code-action requests, a reopened
document's last cursor), the prompt a completion there would be sent is built by
the one prompt builder, and its start up to the cursor's line (repository
context, header, the code above: ``CompletionPrompt.stable``) is prefilled:

- at the lowest engine priority, one token, in chunks of about a quarter of a
  second of prefill each (vLLM runs a whole prefill in one step on a CPU: a
  real request arriving meanwhile would wait for all of it);
- any real request (completion, next edit, edit, chat, the engine's warm-up)
  aborts it at once, so it waits at most for the chunk already in the engine;
  once the engine has nothing left to do, the warm starts again where the
  cursor is (the chunks already done come from the cache): a request elsewhere
  must not leave the cursor's block cold;
- one at a time in all: a newer one replaces the older, closing its document
  cancels it.

The next edit's prompt at the same place gets the same treatment after it (its
instruction and the recent edits: what the cursor's excerpt leaves as it is).

Only the embedded engine is pre-warmed: a remote backend's cache is not ours to
fill, and each request there may cost money.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

from aicockpit.background import spawn
from aicockpit.completion.service import CompletionService
from aicockpit.config import CompletionConfig
from aicockpit.context.positions import Position
from aicockpit.engine.base import Engine, EngineSource, EngineUnavailable
from aicockpit.engine.collect import generate_text
from aicockpit.generation import Priority
from aicockpit.prompt.fim import ANCHOR_LINES
from aicockpit.prompt.requests import engine_request
from aicockpit.telemetry import Telemetry

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.25  # of prefill per chunk: the longest a real request waits behind one
CHUNK_TOKENS = (64, 1024)  # bounds; 256 until the engine's speed is measured
UNMEASURED_CHUNK_TOKENS = 256
REMEMBERED_CURSORS = 256
RESUME_POLL_S = 0.25  # how often a yielded warm looks whether the engine is idle again


class Prewarmer:
    def __init__(
        self,
        service: CompletionService,
        host: EngineSource,  # the completion role's engine
        telemetry: Telemetry,
        settings: Callable[[], CompletionConfig],
        next_edit_head: Callable[[str, Position], tuple[Engine, str] | None] | None = None,
    ) -> None:
        self._service = service
        # The next edit's prompt head at a cursor (NextEditService.stable_head): warmed second.
        self._next_edit_head = next_edit_head
        self._host = host
        self._telemetry = telemetry
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._running: tuple[str, int] | None = None  # (uri, anchor block) being warmed
        self._interrupted: str | None = None  # the uri whose warm a real request stopped
        self._resume: asyncio.Task[None] | None = None
        self._warmed: dict[str, int] = {}  # uri -> the anchor block last warmed
        self._cursors: OrderedDict[str, Position] = OrderedDict()  # last cursor per uri
        self.outcomes: Counter[str] = Counter()
        self.last: dict[str, Any] | None = None

    # -- what the editor tells --------------------------------------------------

    def cursor_seen(self, uri: str, position: Position) -> None:
        """The cursor is at ``position``: warm there if it is in an anchor block not warmed yet."""
        self._remember(uri, position)
        block = position.line // ANCHOR_LINES
        if self._warmed.get(uri) == block or self._running == (uri, block):
            return
        if not self._settings().prewarm:
            return
        self._start(uri, position, block)

    def served(self, uri: str, position: Position) -> None:
        """A completion was asked for at ``position``: its own prefill warms that block."""
        self._remember(uri, position)
        self._warmed[uri] = position.line // ANCHOR_LINES

    def opened(self, uri: str) -> None:
        """A document was opened: a reopened one is warmed where its cursor was."""
        self._warmed.pop(uri, None)
        if (position := self._cursors.get(uri)) is not None:
            self.cursor_seen(uri, position)

    def yield_now(self) -> None:
        """A real request is starting: stop at once (the chunk in the engine is aborted),
        and start again once the engine is idle."""
        if self._running is None:
            return
        self._interrupted = self._running[0]
        self._stop("yielded")
        if self._resume is None or self._resume.done():
            self._resume = spawn(self._resume_when_idle(), name="prewarm resume")

    def forget(self, uri: str) -> None:
        """The document closed."""
        self._warmed.pop(uri, None)
        if self._running is not None and self._running[0] == uri:
            self._stop("cancelled")

    async def _resume_when_idle(self) -> None:
        while True:
            await asyncio.sleep(RESUME_POLL_S)
            try:
                if not self._host.engine.unfinished_requests():
                    break
            except EngineUnavailable:
                return
        uri, self._interrupted = self._interrupted, None
        # A newer warm started meanwhile (the cursor moved on): it is the one that counts.
        if uri is not None and self._running is None and (position := self._cursors.get(uri)) is not None:
            self.cursor_seen(uri, position)

    def _remember(self, uri: str, position: Position) -> None:
        self._cursors[uri] = position
        self._cursors.move_to_end(uri)
        if len(self._cursors) > REMEMBERED_CURSORS:
            self._cursors.popitem(last=False)

    def status(self) -> dict[str, Any]:
        return {
            "enabled": self._settings().prewarm,
            "running": self._running is not None,
            "outcomes": dict(self.outcomes),
            "last": self.last,
        }

    # -- the work ---------------------------------------------------------------

    def _stop(self, reason: str) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel(reason)

    def _start(self, uri: str, position: Position, block: int) -> None:
        self._stop("replaced")
        self._running = (uri, block)
        self._task = spawn(self._warm(uri, position, block), name="prewarm")

    async def _warm(self, uri: str, position: Position, block: int) -> None:
        trace = self._telemetry.start("prewarm")
        trace.engine_accounted = True  # the router accounts each chunk's tokens
        record: dict[str, Any] = {
            "uri": uri,
            "line": position.line,
            "chunks": 0,  # prefilled
            "chunks_started": 0,
            "prefilled_tokens": 0,
        }
        outcome = "error"
        try:
            outcome = await self._prefill(uri, position, record)
            if outcome == "served":
                self._warmed[uri] = block
        except asyncio.CancelledError as cancel:
            outcome = str(cancel.args[0]) if cancel.args else "cancelled"
        except Exception as err:  # a pre-warm must never cost anything but its own work
            log.warning("pre-warming %s failed: %s", uri, err)
        finally:
            if self._running == (uri, block):
                self._running = None
            trace.prompt_tokens = record["prefilled_tokens"]
            record["outcome"] = outcome
            self.last = record
            self.outcomes[outcome] += 1
            self._telemetry.finish(trace, outcome)

    async def _prefill(self, uri: str, position: Position, record: dict[str, Any]) -> str:
        cursor, why = self._service.locate(uri, position)
        if cursor is None:
            return why
        try:
            engine = self._host.engine
        except EngineUnavailable:
            return "engine_unavailable"
        if not getattr(engine, "embedded", False):
            return "remote"
        prepared = self._service.prepare(cursor, engine, unhurried=True)
        if prepared is None:
            return "secret_file"
        await self._prefill_text(engine, prepared.prompt.stable, record, "")
        # The next edit's prompt at the same place, when the embedded engine serves it too.
        head = self._next_edit_head(uri, position) if self._next_edit_head is not None else None
        if head is not None:
            await self._prefill_text(head[0], head[1], record, "next_edit_")
        return "served"

    async def _prefill_text(self, engine: Engine, text: str, record: dict[str, Any], key: str) -> None:
        """Prefill ``text`` in chunks, one engine request each (a real request aborts the one running)."""
        ends = self._chunk_ends(text, engine)
        record[f"{key}chunk_ends"] = len(ends)
        warm_id = uuid.uuid4().hex[:12]
        for i, end in enumerate(ends):
            record[f"{key}chunks_started"] = i + 1
            request = engine_request(
                engine,
                request_id=f"warm-{warm_id}-{i}",
                priority=Priority.PREWARM,
                max_tokens=1,
                text=text[:end],
            )
            generated = await generate_text(engine, request)
            record[f"{key}prefilled_tokens"] = generated.prompt_tokens
            record[f"{key}cached_tokens"] = generated.cached_tokens
            record[f"{key}chunks"] = i + 1

    def _chunk_ends(self, text: str, engine: Engine) -> list[int]:
        """Where the chunks end: line ends, each about ``CHUNK_SECONDS`` of prefill after the last."""
        speed = getattr(engine, "speed", None)
        rate = speed.prefill_tokens_per_s if speed is not None else None
        low, high = CHUNK_TOKENS
        size = UNMEASURED_CHUNK_TOKENS if rate is None else int(max(low, min(high, rate * CHUNK_SECONDS)))
        counts = self._service.line_token_counts(text, engine)
        ends, used, offset = [], 0, 0
        for line, count in zip(text.split("\n"), counts, strict=True):
            offset += len(line) + 1
            used += count
            if used >= size:
                ends.append(min(offset, len(text)))
                used = 0
        if not ends or ends[-1] < len(text):
            ends.append(len(text))
        return [end for end in ends if end > 0]
