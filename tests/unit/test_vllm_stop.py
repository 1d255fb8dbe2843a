"""The embedded engine stopped under a generation: the request fails like any backend's, quietly.

vLLM marks its engine dead on every shutdown, so a request caught inside it
(server shutdown, a profile switch) raised EngineDeadError, logged with a
traceback. A failure of an engine nobody stopped is a crash: it keeps its error.
"""

from __future__ import annotations

import asyncio
import sys
import types

import pytest

from aicockpit.engine.base import BackendError
from aicockpit.engine.vllm_local import VllmEngine
from aicockpit.generation import GenerationRequest


class EngineDeadError(RuntimeError):
    """What vLLM raises to a request once its engine is shut down."""


class FakeLLM:
    def __init__(self) -> None:
        self.dead = asyncio.Event()
        self.shutdowns: list[float | None] = []

    async def generate(self, prompt, params, request_id, priority=0):
        yield types.SimpleNamespace(prompt_token_ids=[1, 2], num_cached_tokens=0, finished=False, outputs=[])
        await self.dead.wait()
        raise EngineDeadError()

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


def engine_around(llm: FakeLLM) -> VllmEngine:
    engine = VllmEngine.__new__(VllmEngine)  # no tokenizer needed for a plain prompt
    engine._llm, engine._processes = llm, ()
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


async def test_an_engine_failing_by_itself_keeps_its_error():
    llm = FakeLLM()
    stream = engine_around(llm).generate(GenerationRequest("r2", "prompt", 8))
    await anext(stream)
    llm.dead.set()  # dies without being stopped
    with pytest.raises(EngineDeadError):
        await anext(stream)
