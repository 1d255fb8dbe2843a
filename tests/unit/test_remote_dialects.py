"""The remote backend against the recorded stream shapes of Ollama, llama.cpp's server and LiteLLM."""

from contextlib import aclosing

import pytest

from aicockpit.config import ProfileConfig
from aicockpit.engine.base import BackendError
from aicockpit.engine.openai_remote import OpenAIRemoteEngine
from aicockpit.generation import ChatMessage, GenerationRequest
from tests.fake_dialects import CACHED_TOKENS, PROMPT_TOKENS
from tests.fake_openai import FakeOpenAI

PIECES = ("def", " f", "():")
FIM = GenerationRequest("r1", "x = 1\n", 8, suffix="\nprint(x)\n")
CHAT = GenerationRequest("r2", "", 8, messages=(ChatMessage("user", "hi"),))


def engine_for(server: FakeOpenAI, **profile) -> OpenAIRemoteEngine:
    settings = {"backend": "openai", "url": server.url, "model": "m", "idle_timeout_ms": 2000, **profile}
    return OpenAIRemoteEngine(ProfileConfig(**settings))


async def collect(engine, request):
    async with aclosing(engine.generate(request)) as stream:
        return [delta async for delta in stream]


# (dialect, cached tokens each reports): Ollama has no cached count; old llama.cpp only in timings.
REPORTING = [
    ("ollama", 0),
    ("llamacpp", CACHED_TOKENS),
    ("llamacpp_old", CACHED_TOKENS),
    ("litellm", CACHED_TOKENS),
]


@pytest.mark.parametrize("request_", [FIM, CHAT], ids=["fim", "chat"])
@pytest.mark.parametrize("dialect, cached", REPORTING)
async def test_each_dialect_streams_text_finishes_and_reports_usage(dialect, cached, request_):
    async with FakeOpenAI(dialect=dialect, pieces=PIECES) as server:
        deltas = await collect(engine_for(server), request_)
    assert "".join(d.text for d in deltas) == "def f():"
    assert [d.finished for d in deltas] == [False] * 3 + [True]  # one delta per piece, then the end
    last = deltas[-1]
    assert last.finish_reason in ("stop", "length")
    assert (last.prompt_tokens, last.cached_tokens, last.generated_tokens) == (PROMPT_TOKENS, cached, 3)


# llama.cpp sends its timings (cache_n) even when it sends no usage.
@pytest.mark.parametrize("dialect, cached", [("ollama", 0), ("llamacpp", CACHED_TOKENS), ("litellm", 0)])
async def test_without_usage_the_prompt_is_estimated_and_pieces_counted(dialect, cached):
    # Servers that ignore stream_options (older Ollama and llama.cpp chat) send no usage.
    async with FakeOpenAI(dialect=dialect, pieces=PIECES, honours_usage=False) as server:
        remote = engine_for(server)
        deltas = await collect(remote, CHAT)
    last = deltas[-1]
    assert last.finished and last.generated_tokens == 3 and last.cached_tokens == cached
    assert last.prompt_tokens == remote.tokenizer.count("hi") > 0  # the estimate, not zero


@pytest.mark.parametrize("request_", [FIM, CHAT], ids=["fim", "chat"])
@pytest.mark.parametrize(
    "dialect, message",
    [
        ("ollama", "ended before the answer was complete"),  # Ollama drops the error text
        ("llamacpp", "the server reported an error: .*failed to decode the batch"),
    ],
)
async def test_a_failure_mid_stream_is_a_retryable_backend_error(dialect, message, request_):
    async with FakeOpenAI(dialect=dialect, mode="broken", pieces=PIECES) as server:
        with pytest.raises(BackendError, match=message) as err:
            await collect(engine_for(server), request_)
    assert err.value.retryable


@pytest.mark.parametrize(
    "dialect, message",
    [
        ("ollama", 'HTTP 404: model "m" not found, try pulling it first'),
        ("llamacpp", "HTTP 400: Unsupported param: suffix"),
    ],
)
async def test_a_refusal_names_the_server_reason_and_is_not_retried(dialect, message):
    async with FakeOpenAI(dialect=dialect, mode="rejected") as server:
        with pytest.raises(BackendError, match=message) as err:
            await collect(engine_for(server, fim_mode="suffix"), FIM)
    assert not err.value.retryable
