"""Roles, fallback, retries, time limits, breakers and switches, with fake engines and a fake server."""

import asyncio
import gc
from contextlib import aclosing, asynccontextmanager

import pytest

from aicockpit.config import decode_config
from aicockpit.engine.base import BackendError, EngineState, EngineUnavailable
from aicockpit.engine.breaker import BreakerState
from aicockpit.engine.host import EngineHost
from aicockpit.engine.openai_remote import ApproxTokenizer
from aicockpit.engine.routing import Router, redact_url
from aicockpit.generation import GenerationDelta, GenerationRequest, PromptFormat
from aicockpit.usage import UsageStore
from tests.fake_openai import FakeOpenAI


class FakeEngine:
    def __init__(self, model: str, text: str = "local", events: list | None = None):
        self.model_name = model
        self.tokenizer = ApproxTokenizer()
        self.prompt_format = PromptFormat()
        self.text = text
        self.requests: list[GenerationRequest] = []
        self.events = events if events is not None else []

    def unfinished_requests(self):
        return 0

    def failure(self):
        return None

    def unresponsive(self, limit_s):
        return None

    def shutdown(self):
        pass

    async def generate(self, request):
        self.requests.append(request)
        yield GenerationDelta(self.text, prompt_tokens=5, generated_tokens=1)
        yield GenerationDelta("", finished=True, finish_reason="stop", prompt_tokens=5, generated_tokens=1)


def hosting(events: list):
    """A host factory whose engines log their loads and unloads into ``events``."""

    def factory(config):
        @asynccontextmanager
        async def run(config):
            await asyncio.sleep(0.01)
            events.append(f"load {config.model}")
            try:
                yield FakeEngine(config.model, text=f"from {config.model}")
            finally:
                events.append(f"unload {config.model}")

        return run(config)

    return lambda: EngineHost(factory)


def config_with(options):
    config, problems = decode_config(options)
    assert not problems, problems
    return config


async def make_router(options, tmp_path, events=None):
    events = events if events is not None else []
    new_host = hosting(events)
    router = Router(new_host(), usage=UsageStore(tmp_path / "usage.sqlite3"), host_factory=new_host)
    await router.apply(config_with(options))
    for role in ("completion", "edit", "chat"):
        await router.wait_ready(role, 5)
    return router


async def run(router, role="completion", request=None):
    request = request or GenerationRequest("id", "prompt", 8)
    engine = router.for_role(role)
    async with aclosing(engine.generate(request)) as stream:
        return "".join([d.text async for d in stream])


def remote(server, **extra):
    return {"backend": "openai", "url": server.url, "model": "remote-m", "retry_backoff_ms": 1, **extra}


async def test_the_default_config_serves_every_role_from_one_embedded_engine(tmp_path):
    events = []
    router = await make_router({"engine": {"model": "tiny"}}, tmp_path, events)
    assert [await run(router, role) for role in ("completion", "edit", "chat")] == ["from tiny"] * 3
    assert events == ["load tiny"]  # one model, three roles
    rows = (await router.usage.report())["rows"]
    assert {r["role"] for r in rows} == {"completion", "edit", "chat"} and rows[0]["model"] == "tiny"
    assert rows[0]["prompt_tokens"] == 5
    await router.stop()
    assert events == ["load tiny", "unload tiny"]


async def test_remote_chat_and_embedded_completion(tmp_path):
    async with FakeOpenAI(pieces=("big", " answer")) as server:
        router = await make_router(
            {
                "engine": {"model": "tiny"},
                "profiles": {"big": remote(server)},
                "roles": {"chat": {"profile": "big"}},
            },
            tmp_path,
        )
        assert await run(router, "chat") == "big answer"
        assert await run(router, "completion") == "from tiny"
        status = router.status()
        assert status["roles"]["chat"]["profile"] == "big"
        assert (
            status["backends"]["big"]["breaker"] == "closed" and status["backends"]["big"]["successes"] == 1
        )
        usage = {r["role"]: r for r in (await router.usage.report())["rows"]}
        assert usage["chat"]["model"] == "remote-m" and usage["chat"]["cached_tokens"] == 4
        await router.stop()


async def test_a_keystroke_warms_the_backend_that_would_serve_it(tmp_path):
    async with FakeOpenAI() as server:
        router = await make_router(
            {
                "engine": {"model": "tiny"},
                "profiles": {"r": remote(server)},
                "roles": {"completion": {"profile": "r", "fallback": ["default"]}},
            },
            tmp_path,
        )
        remote_backend = router.backend("r")
        warmed = []
        remote_backend.remote.warm = lambda: warmed.append("r")
        router.host_for_role("completion").warm()
        router.warm("chat")  # served by the embedded engine: nothing to connect
        assert warmed == ["r"]
        remote_backend.breaker.trip("down")  # the fallback (embedded) would serve it now
        router.warm("completion")
        assert warmed == ["r"]
        await router.stop()


async def test_retries_before_the_first_byte(tmp_path):
    async with FakeOpenAI(fail_first=2) as server:
        router = await make_router(
            {"profiles": {"r": remote(server, retries=2)}, "roles": {"edit": {"profile": "r"}}}, tmp_path
        )
        assert await run(router, "edit") == "hello world"
        assert len(server.seen) == 3 and router.status()["backends"]["r"]["failures"] == 0
        await router.stop()


async def test_fallback_when_the_remote_fails_then_the_breaker_opens_and_recovers(tmp_path):
    async with FakeOpenAI(mode="http500") as server:
        options = {
            "engine": {"model": "tiny"},
            "profiles": {"r": remote(server, retries=0, breaker_failures=2, breaker_cooldown_s=0.3)},
            "roles": {"completion": {"profile": "r", "fallback": ["default"]}},
        }
        router = await make_router(options, tmp_path)
        assert await run(router) == "from tiny"
        assert await run(router) == "from tiny"
        backend = router.status()["backends"]["r"]
        assert backend["breaker"] == "open" and "HTTP 500" in backend["last_error"]
        asked = len(server.seen)
        assert await run(router) == "from tiny"
        assert len(server.seen) == asked  # an open breaker does not even ask
        server.mode = "ok"
        await asyncio.sleep(0.35)
        assert await run(router) == "hello world"  # the probe succeeds and closes the breaker
        assert router.status()["backends"]["r"]["breaker"] == "closed"
        rows = (await router.usage.report())["rows"]
        assert sum(r["failed"] for r in rows if r["profile"] == "r") == 2
        await router.stop()


async def test_no_fallback_means_a_clear_error(tmp_path):
    async with FakeOpenAI(mode="non_json") as server:
        router = await make_router(
            {"profiles": {"r": remote(server, retries=0)}, "roles": {"chat": {"profile": "r"}}}, tmp_path
        )
        with pytest.raises(BackendError, match="malformed event"):
            await run(router, "chat")
        await router.stop()


async def test_first_token_timeout_falls_back(tmp_path):
    async with FakeOpenAI(mode="slow_first", delay=2) as server:
        options = {
            "engine": {"model": "tiny"},
            "profiles": {"r": remote(server, retries=0)},
            "roles": {"completion": {"profile": "r", "fallback": ["default"], "first_token_timeout_ms": 200}},
        }
        router = await make_router(options, tmp_path)
        started = asyncio.get_running_loop().time()
        assert await run(router) == "from tiny"
        assert asyncio.get_running_loop().time() - started < 1.5
        assert "first token" in router.status()["backends"]["r"]["last_error"]
        await router.stop()


async def test_an_endless_stream_ends_at_the_role_timeout(tmp_path):
    async with FakeOpenAI(mode="endless") as server:
        options = {"profiles": {"r": remote(server)}, "roles": {"chat": {"profile": "r", "timeout_ms": 300}}}
        router = await make_router(options, tmp_path)
        pieces = []
        with pytest.raises(BackendError, match="mid-stream"):
            async with aclosing(router.for_role("chat").generate(GenerationRequest("i", "p", 8))) as stream:
                async for delta in stream:
                    pieces.append(delta.text)
        assert pieces and router.status()["backends"]["r"]["failures"] == 1
        for _ in range(50):
            if server.disconnects:
                break
            await asyncio.sleep(0.02)
        assert server.disconnects == 1  # the stream was closed, so the server stops generating
        await router.stop()


async def test_cancelling_is_no_verdict_on_the_backend(tmp_path):
    async with FakeOpenAI(mode="endless") as server:
        router = await make_router(
            {"profiles": {"r": remote(server)}, "roles": {"chat": {"profile": "r"}}}, tmp_path
        )
        async with aclosing(router.for_role("chat").generate(GenerationRequest("i", "p", 8))) as stream:
            async for _ in stream:
                break
        backend = router.status()["backends"]["r"]
        assert backend["failures"] == 0 and backend["breaker"] == "closed"
        await router.stop()


async def test_closing_the_role_stream_closes_the_backend_stream_at_once(tmp_path):
    """Not when the garbage collector gets to it: until then a backend would go on generating."""
    closed = []

    class Watched(FakeEngine):
        async def generate(self, request):
            try:
                yield GenerationDelta("a", prompt_tokens=5, generated_tokens=1)
                yield GenerationDelta("b", prompt_tokens=5, generated_tokens=2)
            finally:
                closed.append(request.request_id)

    router = await make_router({}, tmp_path)
    engine = router.for_role("completion")
    engine._candidates = [(backend, Watched("m")) for backend, _ in engine._candidates]
    gc.disable()
    try:
        async with aclosing(engine.generate(GenerationRequest("kept", "p", 8))) as stream:
            await anext(stream)
            kept = stream  # a reference the consumer still holds, as a scheduler's task does
        assert closed == ["kept"]
    finally:
        gc.enable()
    del kept
    await router.stop()


async def test_profile_sampling_settings_win(tmp_path):
    events = []
    router = await make_router(
        {"engine": {"model": "tiny"}, "profiles": {"default": {"temperature": 0.7, "max_tokens": 4}}},
        tmp_path,
        events,
    )
    engine = router.for_role("completion")
    fake = engine._candidates[0][1]
    await run(router)
    assert fake.requests[-1].temperature == 0.7 and fake.requests[-1].max_tokens == 4
    await router.stop()


async def test_switch_unloads_the_unused_model_before_loading_the_new_one(tmp_path):
    events = []
    options = {
        "engine": {"model": "small"},
        "profiles": {"big": {"engine": {"model": "big"}}},
    }
    router = await make_router(options, tmp_path, events)
    assert events == ["load small"]
    seen = []
    switch = asyncio.create_task(router.switch_profile("completion", "big", seen.append))
    await asyncio.sleep(0)
    with pytest.raises(EngineUnavailable, match="loading"):
        router.for_role("completion")  # never a hang while switching
    assert (await run(router, "chat")) == "from small"  # other roles still served
    await switch
    # the other roles still use the default profile: small stays loaded.
    assert events == ["load small", "load big"] and await run(router) == "from big"
    for role in ("edit", "chat", "next_edit"):
        await router.switch_profile(role, "big")
    assert events == ["load small", "load big", "unload small"]
    assert await run(router, "chat") == "from big"
    assert seen == ["loading big"]
    for role in ("completion", "edit", "next_edit"):
        await router.switch_profile(role, "default")
    seen.clear()
    await router.switch_profile("chat", "default", seen.append)
    assert events[-3:] == ["unload small", "load small", "unload big"]
    assert seen == ["unloading an embedded model no role uses"]
    await router.stop()


async def test_switch_rejects_unknown_names(tmp_path):
    router = await make_router({}, tmp_path)
    with pytest.raises(ValueError, match="no profile named"):
        await router.switch_profile("chat", "nope")
    with pytest.raises(ValueError, match="unknown role"):
        await router.switch_profile("review", "default")
    await router.stop()


async def test_a_settings_change_of_a_role_drops_its_switch(tmp_path):
    options = {"profiles": {"other": {"engine": {"model": "other"}}}}
    router = await make_router(options, tmp_path)
    await router.switch_profile("chat", "other")
    router.configure(config_with(options))  # the same settings again: the switch stays
    assert router.profile_for("chat") == "other"
    router.configure(config_with({**options, "roles": {"chat": {"profile": "other", "fallback": []}}}))
    router.configure(config_with(options))
    assert router.profile_for("chat") == "default"
    await router.stop()


def test_urls_lose_their_credentials():
    assert redact_url("https://user:pw@api.example.com:8443/v1?key=1") == "https://api.example.com:8443/v1"


async def test_an_unresponsive_engine_opens_its_breakers_and_a_restarted_one_closes_them(tmp_path):
    router = await make_router({"engine": {"model": "tiny"}}, tmp_path)
    host = router.default_host
    (backend,) = router.backends_on(host)
    host._set_unresponsive("no sign of life for 12 s")
    assert backend.breaker.state is BreakerState.OPEN and "no sign of life" in backend.breaker.last_error
    with pytest.raises(BackendError, match="breaker open"):
        await run(router)
    host._set(EngineState.READY, "tiny ready")  # as after a restart
    assert backend.breaker.state is BreakerState.CLOSED
    assert await run(router) == "from tiny"
    await router.stop()


class Slow(FakeEngine):
    """An embedded engine that takes its time (a CPU prefilling a long prompt), or fails."""

    def __init__(self, model: str, first_s: float = 0.0, error: str | None = None):
        super().__init__(model)
        self.first_s, self.error = first_s, error

    async def generate(self, request):
        self.requests.append(request)
        if self.error:
            raise BackendError(self.error)
        await asyncio.sleep(self.first_s)
        yield GenerationDelta("slow", prompt_tokens=400, generated_tokens=1)
        await asyncio.sleep(0.02)
        yield GenerationDelta(" but", prompt_tokens=400, generated_tokens=2)
        yield GenerationDelta("", finished=True, finish_reason="stop", prompt_tokens=400, generated_tokens=3)


async def test_a_slow_embedded_engine_is_waited_for_not_retried_or_tripped(tmp_path):
    """A local engine is not a flaky network: the role's time limits are for remote backends."""
    roles = {"completion": {"first_token_timeout_ms": 50, "timeout_ms": 100}}
    router = await make_router({"roles": roles, "profiles": {"default": {"retries": 2}}}, tmp_path)
    engine = router.for_role("completion")
    slow = Slow("m", first_s=0.3)
    engine._candidates = [(backend, slow) for backend, _ in engine._candidates]
    for _ in range(4):  # more than breaker_failures (3) slow requests in a row
        async with aclosing(engine.generate(GenerationRequest("s", "p", 8))) as stream:
            assert "".join([d.text async for d in stream]) == "slow but"
    backend = router.status()["backends"]["default"]
    assert len(slow.requests) == 4  # each once: no retry
    assert backend["breaker"] == "closed" and backend["failures"] == 0 and backend["successes"] == 4
    speed = backend["speed"]  # each request was a sample of the engine's speed
    assert speed["samples"] == 4 and speed["decode_ms_per_token"] > 0
    await router.stop()


async def test_an_embedded_engine_that_fails_is_not_retried(tmp_path):
    router = await make_router({"profiles": {"default": {"retries": 2}}}, tmp_path)
    engine = router.for_role("completion")
    broken = Slow("m", error="the engine died")
    engine._candidates = [(backend, broken) for backend, _ in engine._candidates]
    with pytest.raises(BackendError, match="the engine died"):
        async with aclosing(engine.generate(GenerationRequest("f", "p", 8))) as stream:
            [d async for d in stream]
    assert len(broken.requests) == 1
    assert router.status()["backends"]["default"]["failures"] == 1  # a crash is a failure
    await router.stop()


async def test_real_requests_tell_the_listeners_and_pre_warms_do_not(tmp_path):
    from aicockpit.generation import Priority

    router = await make_router({}, tmp_path)
    heard = []
    router.request_listeners.append(lambda: heard.append("real"))
    await run(router, request=GenerationRequest("w", "p", 1, priority=Priority.PREWARM))
    assert heard == []
    await run(router, request=GenerationRequest("c", "p", 8, priority=Priority.COMPLETION))
    await run(router, "chat", GenerationRequest("h", "p", 8, priority=Priority.CHAT))
    assert heard == ["real", "real"]
    await router.stop()
