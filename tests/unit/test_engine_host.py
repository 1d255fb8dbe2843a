import asyncio
from contextlib import asynccontextmanager

import pytest

from aicockpit.config import EngineConfig
from aicockpit.engine import host as host_module
from aicockpit.engine.base import EngineState, EngineUnavailable
from aicockpit.engine.host import EngineHost, RestartPolicy


class FakeEngine:
    model_name = "fake"
    tokenizer = None

    def __init__(self):
        self.closed = False
        self.dead = ""  # why it died, once it has
        self.problem = None

    def unfinished_requests(self):
        return 0

    def failure(self):
        return self.dead or None

    def unresponsive(self, limit_s):
        return self.problem

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


@pytest.fixture
def quick_watch(monkeypatch):
    monkeypatch.setattr(host_module, "WATCH_INTERVAL_S", 0.01)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_restart_policy_restarts_at_once_then_backs_off_then_gives_up():
    clock = Clock()
    policy = RestartPolicy(limit=3, window_s=300, first_delay_s=2, clock=clock)
    assert [policy.crashed() for _ in range(3)] == [0.0, 2.0, 4.0]
    assert policy.crashed() is None  # a fourth crash within five minutes: give up
    clock.now = 1000  # long after: the count starts again
    assert policy.crashed() == 0.0


async def wait_for_state(host, state, timeout=5):
    async with asyncio.timeout(timeout):
        while host.state is not state:
            await asyncio.sleep(0.005)


async def test_an_engine_that_dies_is_restarted_and_serves_again(quick_watch):
    engines = []

    @asynccontextmanager
    async def factory(config):
        engines.append(FakeEngine())
        try:
            yield engines[-1]
        finally:
            engines[-1].closed = True

    host = EngineHost(factory, RestartPolicy(first_delay_s=0.01))
    seen = []
    host.on_state(lambda state, message: seen.append((state, message)))
    host.start(EngineConfig())
    await wait_for_state(host, EngineState.READY)
    engines[0].dead = "its engine core process ended (killed by SIGKILL)"
    async with asyncio.timeout(5):
        while len(engines) < 2 or host.state is not EngineState.READY:
            await asyncio.sleep(0.005)
    assert host.engine is engines[1] and host.restarts == 1 and "SIGKILL" in host.last_crash
    assert engines[0].closed  # shut down before the next one loads
    states = [state for state, _ in seen]
    assert states == [
        EngineState.LOADING,
        EngineState.READY,
        EngineState.CRASHED,
        EngineState.LOADING,
        EngineState.READY,
    ]
    assert "restarting it" in seen[2][1] and seen[3][1].startswith("restarting")
    engines[1].dead = "again"  # a second crash soon after: it waits before restarting
    await wait_for_state(host, EngineState.CRASHED)
    assert "restarting it in" in host_message(seen)
    await wait_for_state(host, EngineState.READY)
    await host.stop()
    assert host.state is EngineState.STOPPED


def host_message(seen):
    return seen[-1][1]


async def test_too_many_crashes_and_the_host_gives_up_with_a_clear_message(quick_watch):
    @asynccontextmanager
    async def factory(config):
        engine = FakeEngine()
        engine.dead = "crashed on arrival"
        yield engine

    host = EngineHost(factory, RestartPolicy(limit=2, first_delay_s=0.01))
    host.start(EngineConfig())
    await wait_for_state(host, EngineState.FAILED)
    assert host.restarts == 2
    assert "3 times" in host.error and "not restarting" in host.error
    with pytest.raises(EngineUnavailable):
        host.engine


async def test_stop_while_waiting_to_restart(quick_watch):
    engine = FakeEngine()
    host = EngineHost(factory_for(engine), RestartPolicy(first_delay_s=60))
    host.start(EngineConfig())
    await wait_for_state(host, EngineState.READY)
    host._policy.crashed()  # one crash already: the next waits a minute
    engine.dead = "killed"
    await wait_for_state(host, EngineState.CRASHED)
    await asyncio.wait_for(host.stop(), 2)
    assert host.state is EngineState.STOPPED


async def test_a_silent_engine_is_reported_unresponsive_then_answering_again(quick_watch):
    engine = FakeEngine()
    host = EngineHost(factory_for(engine))
    problems = []
    host.on_health(problems.append)
    host.start(EngineConfig(stall_timeout_s=5))
    await wait_for_state(host, EngineState.READY)
    engine.problem = "its VLLM::EngineCore process (pid 1) is stopped"
    async with asyncio.timeout(5):
        while not host.unresponsive:
            await asyncio.sleep(0.005)
    assert host.state is EngineState.READY  # still serving: it may come back
    engine.problem = None
    async with asyncio.timeout(5):
        while host.unresponsive:
            await asyncio.sleep(0.005)
    assert len(problems) == 2 and "is stopped" in problems[0] and problems[1] == ""
    await host.stop()
