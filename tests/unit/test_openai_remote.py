"""The remote OpenAI-compatible backend against a scripted local HTTP server."""

import asyncio
from contextlib import aclosing

import pytest

from aicockpit.config import ProfileConfig
from aicockpit.engine.base import BackendError
from aicockpit.engine.openai_remote import ApproxTokenizer, OpenAIRemoteEngine
from aicockpit.generation import ChatMessage, GenerationRequest
from tests.fake_openai import FakeOpenAI


def engine_for(server: FakeOpenAI, **profile) -> OpenAIRemoteEngine:
    settings = {"backend": "openai", "url": server.url, "model": "m", "idle_timeout_ms": 1000, **profile}
    return OpenAIRemoteEngine(ProfileConfig(**settings))


def fim_request(**changes) -> GenerationRequest:
    prompt = "<|fim_prefix|>def f(<|fim_suffix|>):\n<|fim_middle|>"
    fields = {"request_id": "r1", "prompt": prompt, "max_tokens": 8}
    return GenerationRequest(**{**fields, **changes})


async def collect(engine, request):
    async with aclosing(engine.generate(request)) as stream:
        return [delta async for delta in stream]


async def test_the_prompt_goes_out_exactly_as_built_with_usage_back():
    async with FakeOpenAI() as server:
        deltas = await collect(engine_for(server), fim_request(stop=("\n\n",)))
    assert "".join(d.text for d in deltas) == "hello world"
    last = deltas[-1]
    assert last.finished and last.finish_reason == "stop"
    assert (last.prompt_tokens, last.cached_tokens, last.generated_tokens) == (7, 4, 2)
    seen = server.seen[0]
    assert seen.path == "/v1/completions"
    assert seen.body["prompt"] == "<|fim_prefix|>def f(<|fim_suffix|>):\n<|fim_middle|>"
    assert seen.body["stream"] is True and seen.body["stop"] == ["\n\n"] and seen.body["model"] == "m"


async def test_extra_body_fields_go_along_but_never_over_ours():
    async with FakeOpenAI() as server:
        await collect(
            engine_for(server, extra_body={"top_k": 5, "model": "other", "stream": False}), fim_request()
        )
    body = server.seen[0].body
    assert body["top_k"] == 5 and body["model"] == "m" and body["stream"] is True


async def test_a_suffix_field_goes_out_as_built_and_none_without_one():
    async with FakeOpenAI() as server:
        engine = engine_for(server, fim_mode="suffix")
        assert engine.prompt_format.suffix_field and engine.prompt_format.max_stops == 4
        await collect(engine, fim_request(prompt="# a.py\ndef f(", suffix="):\n"))
        await collect(engine, fim_request(prompt="plain"))
    assert (server.seen[0].body["prompt"], server.seen[0].body["suffix"]) == ("# a.py\ndef f(", "):\n")
    assert server.seen[1].body["prompt"] == "plain" and "suffix" not in server.seen[1].body


async def test_chat_messages_go_to_chat_completions():
    request = GenerationRequest(
        "r2", "", 16, messages=(ChatMessage("system", "be brief"), {"role": "user", "content": "hi"})
    )
    async with FakeOpenAI() as server:
        deltas = await collect(engine_for(server), request)
    assert "".join(d.text for d in deltas) == "hello world"
    assert server.seen[0].path == "/v1/chat/completions"
    assert server.seen[0].body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


async def test_api_key_from_the_environment_only_in_the_header(monkeypatch):
    monkeypatch.setenv("AICOCKPIT_TEST_KEY", "sk-secret-123")
    async with FakeOpenAI() as server:
        engine = engine_for(server, api_key_env="AICOCKPIT_TEST_KEY")
        await collect(engine, fim_request())
    assert server.seen[0].headers["authorization"] == "Bearer sk-secret-123"
    monkeypatch.delenv("AICOCKPIT_TEST_KEY")
    with pytest.raises(BackendError, match="AICOCKPIT_TEST_KEY") as err:
        await collect(engine, fim_request())
    assert not err.value.retryable and "sk-secret" not in str(err.value)


async def test_a_whole_json_answer_is_accepted():
    async with FakeOpenAI(mode="json_answer") as server:
        deltas = await collect(engine_for(server), fim_request())
    assert [d.text for d in deltas] == ["whole"] and deltas[0].prompt_tokens == 3


async def test_a_stream_without_done_but_finished_is_fine():
    async with FakeOpenAI(mode="no_done") as server:
        deltas = await collect(engine_for(server), fim_request())
    assert deltas[-1].finished and "".join(d.text for d in deltas) == "hello world"


@pytest.mark.parametrize(
    "mode, message, retryable",
    [
        ("http500", "HTTP 500: boom", True),
        ("http401", "HTTP 401: bad key", False),
        ("non_json", "malformed event", True),
        ("truncated", "ended before the answer was complete", True),
        ("wrong_type", "content type 'text/html'", True),
        ("bad_json", "malformed JSON answer", True),
        ("long_line", "event line longer", True),
    ],
)
async def test_garbage_becomes_a_backend_error(mode, message, retryable):
    async with FakeOpenAI(mode=mode) as server:
        with pytest.raises(BackendError, match=message) as err:
            await collect(engine_for(server), fim_request())
    assert err.value.retryable is retryable


async def test_silence_ends_at_the_idle_timeout():
    async with FakeOpenAI(mode="silent") as server:
        started = asyncio.get_running_loop().time()
        with pytest.raises(BackendError, match="no answer in time"):
            await collect(engine_for(server, idle_timeout_ms=200), fim_request())
    assert asyncio.get_running_loop().time() - started < 3


async def test_nobody_listening_is_a_retryable_error():
    server = FakeOpenAI()
    async with server:
        url = server.url
    engine = OpenAIRemoteEngine(ProfileConfig(backend="openai", url=url, model="m"))
    with pytest.raises(BackendError) as err:
        await collect(engine, fim_request())
    assert err.value.retryable and "Connect" in str(err.value)


async def test_closing_the_stream_disconnects_from_the_server():
    async with FakeOpenAI(mode="endless") as server:
        engine = engine_for(server)
        async with aclosing(engine.generate(fim_request())) as stream:
            async for _ in stream:
                break
        assert engine.unfinished_requests() == 0
        for _ in range(100):
            if server.disconnects:
                break
            await asyncio.sleep(0.02)
    assert server.disconnects == 1


def test_approximate_tokenizer_cuts_by_characters():
    tokens = ApproxTokenizer({"<|fim_prefix|>"})
    assert tokens.count("abcdefgh") == 2 and tokens.count("abcde") == 2
    assert tokens.head("abcdefgh", 1) == "abcd" and tokens.tail("abcdefgh", 1) == "efgh"
    assert tokens.tail("abc", 0) == "" and "<|fim_prefix|>" in tokens.special_tokens()
