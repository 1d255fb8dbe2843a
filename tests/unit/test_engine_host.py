import asyncio
from contextlib import asynccontextmanager

import pytest

from aicockpit.config import EngineConfig
from aicockpit.engine.base import EngineState, EngineUnavailable
from aicockpit.engine.host import EngineHost


class FakeEngine:
    model_name = "fake"
    tokenizer = None

    def __init__(self):
        self.closed = False

    def unfinished_requests(self):
        return 0

    def shutdown(self):
        self.closed = True


def factory_for(engine, delay=0.0, error=None):
    @asynccontextmanager
    async def factory(config):
        await asyncio.sleep(delay)
        if error:
            raise error
        try:
            yield engine
        finally:
            engine.closed = True

    return factory


async def test_loading_then_ready_then_stopped():
    engine = FakeEngine()
    host = EngineHost(factory_for(engine, delay=0.05))
    seen = []
    host.on_state(lambda state, message: seen.append(state))
    host.start(EngineConfig())
    with pytest.raises(EngineUnavailable):
        host.engine
    assert await host.wait_ready(5) is EngineState.READY
    assert host.engine is engine
    await host.stop()
    assert engine.closed and host.state is EngineState.STOPPED
    assert seen == [EngineState.LOADING, EngineState.READY, EngineState.STOPPED]


async def test_a_failing_engine_is_reported_not_raised():
    host = EngineHost(factory_for(FakeEngine(), error=RuntimeError("no such model")))
    host.start(EngineConfig())
    assert await host.wait_ready(5) is EngineState.FAILED
    assert "no such model" in host.error
    with pytest.raises(EngineUnavailable, match="no such model"):
        host.engine


async def test_start_times_out():
    host = EngineHost(factory_for(FakeEngine(), delay=5))
    host.start(EngineConfig(start_timeout_s=0.05))
    assert await host.wait_ready(5) is EngineState.FAILED
    assert "did not start" in host.error


async def test_stop_while_loading():
    engine = FakeEngine()
    host = EngineHost(factory_for(engine, delay=5))
    host.start(EngineConfig())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(host.stop(), 2)
    assert host.state is not EngineState.READY
