"""Each role's one-line health: states, their messages and fixes, and one log line per change."""

import asyncio
import logging

from aicockpit.config import AicockpitConfig
from aicockpit.engine.speed import SpeedSample
from aicockpit.health import HealthMonitor
from aicockpit.telemetry import Telemetry
from tests.fake_openai import FakeOpenAI
from tests.unit.test_routing import config_with, make_router, remote, run


async def test_an_unreachable_remote_backend_is_said_once_and_recovers_by_itself(tmp_path, caplog):
    async with FakeOpenAI(mode="http500") as server:
        options = {
            "profiles": {"team-fim": remote(server, retries=0, breaker_failures=2, breaker_cooldown_s=0.2)},
            "roles": {"completion": {"profile": "team-fim"}},
        }
        router = await make_router(options, tmp_path)
        monitor = HealthMonitor(router, Telemetry(), lambda: config_with(options))
        assert monitor.evaluate()["completion"]["state"] == "ok"
        with caplog.at_level(logging.INFO, logger="aicockpit.health"):
            for _ in range(2):
                try:
                    await run(router)
                except Exception:
                    pass
            for _ in range(3):
                health = monitor.evaluate()["completion"]
            assert health["state"] == "unreachable" and health["message"] == "backend unreachable: team-fim"
            assert server.url in health["fix"]
            server.mode = "ok"
            await asyncio.sleep(0.25)
            assert await run(router) == "hello world"  # the breaker's probe gets through
            assert monitor.evaluate()["completion"]["state"] == "ok"
        lines = [r.getMessage() for r in caplog.records]
        assert sum("unreachable" in line for line in lines) == 1  # once per change, not a stream
        assert sum("answering in time again" in line for line in lines) == 1
        await router.stop()


async def test_completions_slower_than_the_target_say_so_with_the_measured_figure(tmp_path):
    router = await make_router({}, tmp_path)
    monitor = HealthMonitor(router, Telemetry(), AicockpitConfig)
    backend = router.backend("default")
    for _ in range(3):
        backend.speed.observe(SpeedSample(1200, 0, first_token_s=6.1, decode_s=0.3, generated_tokens=10))
    health = monitor.evaluate()["completion"]
    assert health["state"] == "slow"
    assert health["message"] == "slow: 6.1 s to first token on this machine"
    assert "GPU" in health["fix"] and "remote profile" in health["fix"]
    assert monitor.evaluate()["chat"]["state"] == "ok"  # chat has no latency target
    for _ in range(40):  # the machine is fast again
        backend.speed.observe(SpeedSample(1200, 1184, first_token_s=0.3, decode_s=0.3, generated_tokens=10))
    assert monitor.evaluate()["completion"]["state"] == "ok"
    await router.stop()


async def test_missed_deadlines_are_slow_and_explicit_budgets_are_named_in_the_fix(tmp_path):
    router = await make_router({}, tmp_path)
    telemetry = Telemetry()
    for outcome in ("timed_out", "timed_out", "served", "timed_out"):
        telemetry.finish(telemetry.start("completion"), outcome)
    config = config_with({"completion": {"prefix_tokens": 4000}})
    health = HealthMonitor(router, telemetry, lambda: config).evaluate()["completion"]
    assert health["state"] == "slow" and "75% of recent completions missed" in health["message"]
    assert "completion.prefix_tokens" in health["fix"]
    # The engine itself answers fast: the message says what is wrong, not a fast first token.
    for _ in range(3):
        router.backend("default").speed.observe(
            SpeedSample(1200, 1184, first_token_s=0.01, decode_s=0.3, generated_tokens=10)
        )
    health = HealthMonitor(router, telemetry, lambda: config).evaluate()["completion"]
    assert "75% of recent completions missed" in health["message"], health
    await router.stop()
