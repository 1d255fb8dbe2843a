"""Keeps the engine running in the background and tells everyone its state.

Requests never wait for a loading engine: ``engine`` raises ``EngineUnavailable``
until it is ready, and the features answer with an empty result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from aicockpit.background import spawn
from aicockpit.config import EngineConfig
from aicockpit.engine.base import Engine, EngineState, EngineUnavailable

log = logging.getLogger(__name__)

EngineFactory = Callable[[EngineConfig], AbstractAsyncContextManager[Engine]]
StateListener = Callable[[EngineState, str], None]


def default_factory(config: EngineConfig) -> AbstractAsyncContextManager[Engine]:
    from aicockpit.engine.vllm_local import running_vllm

    return running_vllm(config)


class EngineHost:
    def __init__(self, factory: EngineFactory = default_factory) -> None:
        self._factory = factory
        self._engine: Engine | None = None
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self.state = EngineState.STOPPED
        self.error = ""
        self._listeners: list[StateListener] = []

    @property
    def running(self) -> bool:
        """Loading or serving: the background task has not ended."""
        return self._task is not None and not self._task.done()

    def on_state(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    @property
    def engine(self) -> Engine:
        if self._engine is None or self.state is not EngineState.READY:
            raise EngineUnavailable(
                f"engine is {self.state.value}" + (f": {self.error}" if self.error else "")
            )
        return self._engine

    def start(self, config: EngineConfig) -> asyncio.Task:
        """Start loading in the background; the task ends when the engine stops."""
        if self._task is not None and not self._task.done():
            return self._task
        self._stop.clear()
        self._ready.clear()
        self._task = spawn(self._run(config), name="engine")
        return self._task

    async def _run(self, config: EngineConfig) -> None:
        self._set(EngineState.LOADING, f"loading {config.model}")
        try:
            async with _timed(self._factory(config), config.start_timeout_s) as engine:
                self._engine = engine
                self._set(EngineState.READY, f"{config.model} ready")
                await self._stop.wait()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the server keeps running without an engine
            log.exception("engine failed")
            self._set(EngineState.FAILED, f"{type(err).__name__}: {err}")
            return
        finally:
            self._engine = None
            self._ready.set()  # wake waiters whatever happened
        self._set(EngineState.STOPPED, "engine stopped")

    def _set(self, state: EngineState, message: str) -> None:
        self.state = state
        if state is EngineState.FAILED:
            self.error = message
        if state in (EngineState.READY, EngineState.FAILED):
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


class _timed(AbstractAsyncContextManager):
    """Enter an async context manager within a time limit."""

    def __init__(self, inner: AbstractAsyncContextManager, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout

    async def __aenter__(self):
        try:
            return await asyncio.wait_for(self._inner.__aenter__(), self._timeout)
        except TimeoutError:
            raise TimeoutError(f"engine did not start within {self._timeout:.0f} s") from None

    async def __aexit__(self, *exc) -> bool | None:
        return await self._inner.__aexit__(*exc)
