"""The embedded engine stopped under a generation: the request fails like any backend's, quietly.

vLLM marks its engine dead on every shutdown, so a request caught inside it
(server shutdown, a profile switch) raised EngineDeadError, logged with a
traceback. An engine that dies by itself (its engine core killed) fails the
request the same way, and its host restarts it; any other error is a bug and
keeps its traceback.
"""

from __future__ import annotations

import asyncio
import sys
import types

import pytest

from aicockpit.engine.base import BackendError
from aicockpit.engine.vllm_local import ProcessStates, VllmEngine
from aicockpit.generation import GenerationRequest


class EngineDeadError(RuntimeError):
    """What vLLM raises to a request once its engine is shut down."""


class FakeLLM:
    def __init__(self, error: type[Exception] = EngineDeadError) -> None:
        self.dead = asyncio.Event()
        self.error = error
        self.shutdowns: list[float | None] = []

    async def generate(self, prompt, params, request_id, priority=0):
        yield types.SimpleNamespace(prompt_token_ids=[1, 2], num_cached_tokens=0, finished=False, outputs=[])
        await self.dead.wait()
        raise self.error()

    def shutdown(self, timeout=None) -> None:
        self.shutdowns.append(timeout)
        self.dead.set()


@pytest.fixture(autouse=True)
def fake_vllm(monkeypatch):
    """Just what ``generate`` imports: the real vLLM takes seconds to import."""
    params = types.ModuleType("vllm.sampling_params")
    params.RequestOutputKind = types.SimpleNamespace(DELTA="delta")
    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(SamplingParams=dict))
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", params)
    exceptions = types.ModuleType("vllm.v1.engine.exceptions")
    exceptions.EngineDeadError = EngineDeadError
    monkeypatch.setitem(sys.modules, "vllm.v1.engine.exceptions", exceptions)


def engine_around(llm: FakeLLM) -> VllmEngine:
    engine = VllmEngine.__new__(VllmEngine)  # no tokenizer needed for a plain prompt
    engine._llm, engine._processes = llm, ()
    engine._in_flight, engine._waiting_since, engine._died = 0, None, ""
    engine._states = ProcessStates(())
    return engine


async def test_a_generation_cut_by_the_engine_stopping_fails_as_a_backend_error():
    llm = FakeLLM()
    engine = engine_around(llm)
    stream = engine.generate(GenerationRequest("r1", "prompt", 8))
    await anext(stream)
    engine.shutdown()
    with pytest.raises(BackendError, match="the engine stopped"):
        await anext(stream)
    assert llm.shutdowns == [0]  # no grace period


async def test_an_engine_dying_by_itself_fails_the_request_quietly_too():
    llm = FakeLLM()
    stream = engine_around(llm).generate(GenerationRequest("r2", "prompt", 8))
    await anext(stream)
    llm.dead.set()  # its engine core killed: nobody stopped it
    with pytest.raises(BackendError, match="the engine died"):
        await anext(stream)


async def test_any_other_failure_keeps_its_error():
    llm = FakeLLM(error=ZeroDivisionError)
    stream = engine_around(llm).generate(GenerationRequest("r3", "prompt", 8))
    await anext(stream)
    llm.dead.set()
    with pytest.raises(ZeroDivisionError):
        await anext(stream)


async def test_requests_waiting_without_a_break_and_no_output_make_the_engine_unresponsive():
    llm = FakeLLM()
    engine = engine_around(llm)
    assert engine.unresponsive(20) is None  # nothing waits
    stream = engine.generate(GenerationRequest("r4", "prompt", 8))
    await anext(stream)  # an output; the request waits for more from now on
    assert engine.unresponsive(20) is None
    engine._waiting_since -= 30  # thirty seconds pass with no output
    assert "waited 30 s with no output" in engine.unresponsive(20)
    await stream.aclose()  # nothing waits any more: typing aborts completions all the time
    assert engine.unresponsive(20) is None
