"""Keeps the engine running in the background, restarts it when it dies, and tells everyone its state.

Requests never wait for a loading engine: ``engine`` raises ``EngineUnavailable``
until it is ready, and the features answer with an empty result.

While the engine serves, a watchdog asks it every ``WATCH_INTERVAL_S``:

- dead (its engine core process was killed, or vLLM declared it dead): the
  engine is shut down and started again, at once the first time; another crash
  within ``RestartPolicy.window_s`` waits 2 s, then 4 s..., and after
  ``RestartPolicy.limit`` restarts the host gives up (FAILED, with a message
  saying why and what to do) rather than loop;
- unresponsive (one of its processes stopped, or requests waiting without a
  break for ``engine.stall_timeout_s`` with no output: hung): listeners hear it
  (the router opens the circuit breakers of the profiles it serves), and again
  when it answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from aicockpit.background import spawn
from aicockpit.config import EngineConfig
from aicockpit.engine.base import Engine, EngineSetupError, EngineState, EngineUnavailable

log = logging.getLogger(__name__)

EngineFactory = Callable[[EngineConfig], AbstractAsyncContextManager[Engine]]
StateListener = Callable[[EngineState, str], None]
WATCH_INTERVAL_S = 0.5


def default_factory(config: EngineConfig) -> AbstractAsyncContextManager[Engine]:
    from aicockpit.engine.vllm_local import running_vllm

    return running_vllm(config)


class RestartPolicy:
    """When to restart an engine that died: at once, then backing off, then not at all."""

    def __init__(
        self,
        limit: int = 3,
        window_s: float = 300.0,
        first_delay_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.first_delay_s = limit, window_s, first_delay_s
        self._clock = clock
        self._crashes: list[float] = []

    def crashed(self) -> float | None:
        """Note a crash; seconds to wait before restarting, or None to give up."""
        now = self._clock()
        self._crashes = [t for t in self._crashes if now - t < self.window_s] + [now]
        recent = len(self._crashes)
        if recent > self.limit:
            return None
        return 0.0 if recent == 1 else self.first_delay_s * 2 ** (recent - 2)

    @property
    def recent(self) -> int:
        return len(self._crashes)


class EngineHost:
    def __init__(self, factory: EngineFactory = default_factory, policy: RestartPolicy | None = None) -> None:
        self._factory = factory
        self._policy = policy or RestartPolicy()
        self._engine: Engine | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self.state = EngineState.STOPPED
        self.since = time.monotonic()  # when the current state began
        self.message = ""  # what the last state change said ("...; restarting it in 2 s")
        self.error = ""
        # The config field whose value caused the failure, when the user can fix it there.
        self.error_setting: str | None = None
        self.restarts = 0  # since the server started
        self.last_crash = ""
        self.unresponsive = ""  # why the engine is unresponsive now, or ""
        self._listeners: list[StateListener] = []
        self._health_listeners: list[Callable[[str], None]] = []

    @property
    def running(self) -> bool:
        """Loading, serving or waiting to restart: the background task has not ended."""
        return self._task is not None and not self._task.done()

    def on_state(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def on_health(self, listener: Callable[[str], None]) -> None:
        """``listener(problem)`` when the engine turns unresponsive, and ``listener("")`` when it recovers."""
        self._health_listeners.append(listener)

    @property
    def engine(self) -> Engine:
        if self._engine is None or self.state is not EngineState.READY:
            raise EngineUnavailable(
                f"engine is {self.state.value}" + (f": {self.error}" if self.error else "")
            )
        return self._engine

    def warm(self) -> None:
        """An embedded engine is always connected."""

    def start(self, config: EngineConfig) -> asyncio.Task[None]:
        """Start loading in the background; the task ends when the engine stops (or is given up on)."""
        if self._task is not None and not self._task.done():
            return self._task
        self._stop.clear()
        self._ready.clear()
        self._task = spawn(self._run(config), name="engine")
        return self._task

    async def _run(self, config: EngineConfig) -> None:
        crash: str | None = None
        while True:
            crash, load_error = await self._serve(config, restarting=crash is not None)
            if crash is None:
                if load_error is None:
                    self._set(EngineState.STOPPED, "engine stopped")
                else:  # a first load failed: the settings or the model are at fault
                    self._set(EngineState.FAILED, load_error)
                return
            delay = self._policy.crashed()
            self.last_crash = crash
            if delay is None:
                self._set(
                    EngineState.FAILED,
                    f"the engine stopped unexpectedly {self._policy.recent} times within"
                    f" {self._policy.window_s / 60:.0f} minutes (last: {crash}); not restarting it."
                    " See the server log for the cause; change a setting or restart the server to try again",
                )
                return
            self._set(
                EngineState.CRASHED,
                f"{crash}; restarting it" + (f" in {delay:.0f} s" if delay else ""),
            )
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
                self._set(EngineState.STOPPED, "engine stopped")
                return
            except TimeoutError:
                pass
            self.restarts += 1

    async def _serve(self, config: EngineConfig, restarting: bool) -> tuple[str | None, str | None]:
        """Load the engine and serve until stopped (None, None), it dies (reason, None) or fails to load."""
        self._set(EngineState.LOADING, f"{'restarting' if restarting else 'loading'} {config.model}")
        try:
            async with _timed(self._factory(config), config.start_timeout_s) as engine:
                self._engine = engine
                self._set(EngineState.READY, f"{config.model} ready")
                return await self._watch(engine, config), None
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the server keeps running without an engine
            if isinstance(err, EngineSetupError):  # the user's to fix, and the message says how: no traceback
                log.error("the engine cannot start: %s", err)
                message = str(err)
                setting = getattr(err, "setting", None)
                self.error_setting = setting if isinstance(setting, str) else None
            else:
                log.exception("engine failed")
                message = f"{type(err).__name__}: {err}"
            # A restart that fails to load is one more crash: it backs off, then gives up.
            return (f"it failed to load again ({message})", None) if restarting else (None, message)
        finally:
            self._engine = None
            self._set_unresponsive("")
            self._ready.set()  # wake waiters whatever happened

    async def _watch(self, engine: Engine, config: EngineConfig) -> str | None:
        """Until stopped (None) or the engine dies (why)."""
        while True:
            try:
                await asyncio.wait_for(self._stop.wait(), WATCH_INTERVAL_S)
                return None
            except TimeoutError:
                pass
            failure = engine.failure()
            if failure:
                log.warning("the engine stopped unexpectedly: %s", failure)
                return failure
            self._set_unresponsive(engine.unresponsive(config.stall_timeout_s) or "")

    def _set_unresponsive(self, problem: str) -> None:
        if bool(problem) == bool(self.unresponsive):
            self.unresponsive = problem or self.unresponsive
            return
        self.unresponsive = problem
        if problem:
            log.warning("the engine is unresponsive: %s", problem)
        else:
            log.info("the engine answers again")
        for listener in self._health_listeners:
            try:
                listener(problem)
            except Exception:
                log.exception("engine health listener failed")

    def _set(self, state: EngineState, message: str) -> None:
        self.state, self.message = state, message
        self.since = time.monotonic()
        if state is EngineState.FAILED:
            self.error = message
        elif state in (EngineState.LOADING, EngineState.READY):
            self.error, self.error_setting = "", None
        # wait_ready waits through a restart, and for nothing once the engine serves or has ended.
        if state in (EngineState.LOADING, EngineState.CRASHED):
            self._ready.clear()
        else:
            self._ready.set()
        for listener in self._listeners:
            try:
                listener(state, message)
            except Exception:
                log.exception("engine state listener failed")

    async def wait_ready(self, timeout: float | None = None) -> EngineState:
        await asyncio.wait_for(self._ready.wait(), timeout)
        return self.state

    async def stop(self) -> None:
        """Stop the engine and wait until it has shut down."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        if self.state is EngineState.LOADING:
            task.cancel()  # loading runs in a thread; the context manager still cleans up
        # However the engine task ends (its failure is logged where it happens), but a
        # cancellation of this caller goes on up: asyncio.wait never raises the task's own.
        await asyncio.wait([task])
        if task.cancelled():
            self._set(EngineState.STOPPED, "engine stopped")


T = TypeVar("T")


class _timed(AbstractAsyncContextManager[T]):
    """Enter an async context manager within a time limit."""

    def __init__(self, inner: AbstractAsyncContextManager[T], timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout

    async def __aenter__(self) -> T:
        try:
            return await asyncio.wait_for(self._inner.__aenter__(), self._timeout)
        except TimeoutError:
            raise TimeoutError(f"engine did not start within {self._timeout:.0f} s") from None

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._inner.__aexit__(*exc)
