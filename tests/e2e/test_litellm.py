"""Remote backend through a real LiteLLM proxy in front of a real ``vllm serve`` (tiny model, 127.0.0.1).

The same router and profile as tests/e2e/test_remote_backend.py, pointed at the
proxy with its master key as the API key: a FIM completion over /v1/completions,
an edit and a chat over /v1/chat/completions, usage (cached tokens included)
passed through, a wrong key, and what happens upstream when a stream is closed.
"""

from __future__ import annotations

import asyncio
import os
import re
from contextlib import aclosing

import httpx
import pytest

from aicockpit.config import ProfileConfig
from aicockpit.engine.base import BackendError
from aicockpit.engine.openai_remote import OpenAIRemoteEngine
from aicockpit.generation import ChatMessage, GenerationRequest
from aicockpit.prompt.fim import FIM_TEMPLATES
from tests.e2e.test_remote_backend import CHAT, CODE, EDIT, generate, remote_router
from tests.litellm_proxy import LiteLLMProxy
from tests.support import tiny_model, wait_until
from tests.vllm_serve import SERVED_NAME, VllmServe

QWEN = FIM_TEMPLATES["qwen"]

PROXIED = "coder-via-litellm"  # the name clients ask LiteLLM for; it maps it to vLLM's "tiny"
KEY_ENV = "AICOCKPIT_TEST_LITELLM_KEY"


@pytest.fixture(scope="module")
async def stack(tmp_path_factory, vllm_serve):
    workdir = tmp_path_factory.mktemp("litellm")
    proxy = LiteLLMProxy(vllm_serve.url, SERVED_NAME, PROXIED, workdir)
    try:
        await asyncio.gather(vllm_serve.running(), proxy.start())  # both take seconds: at once
        os.environ[KEY_ENV] = proxy.master_key
        yield vllm_serve, proxy
    finally:
        os.environ.pop(KEY_ENV, None)
        proxy.stop()


def profile(proxy: LiteLLMProxy, **extra) -> dict:
    return {
        "backend": "openai",
        "url": proxy.url,
        "model": PROXIED,
        "api_key_env": KEY_ENV,
        "tokenizer": str(tiny_model()),
        "retry_backoff_ms": 50,
        **extra,
    }


def engine(proxy: LiteLLMProxy, **extra) -> OpenAIRemoteEngine:
    return OpenAIRemoteEngine(ProfileConfig(**profile(proxy, **extra)))


@pytest.fixture
async def router(stack, tmp_path):
    _, proxy = stack
    router = await remote_router("litellm", profile(proxy), tmp_path)
    yield router
    await router.stop()


async def test_fim_completion_through_litellm(router, stack):
    vllm, _ = stack
    since = vllm.log_size()
    before, after = CODE, "\n\nprint(cheapest([]))\n"
    text, last = await generate(
        router.for_role("completion"),
        GenerationRequest("c1", QWEN.render(before, after), 12),
    )
    rendered = router.for_role("completion").tokenizer.count(QWEN.render(before, after))
    assert text and last.finished and last.finish_reason == "length"
    assert last.prompt_tokens == rendered  # LiteLLM forwarded the prompt as is, FIM tokens and all
    assert last.generated_tokens == 12
    assert "Received request cmpl-" in vllm.log_since(since)  # vLLM's /v1/completions, not a chat
    _, again = await generate(
        router.for_role("completion"),
        GenerationRequest("c2", QWEN.render(before, after), 12),
    )
    assert again.cached_tokens >= 32  # vLLM's prefix cache, through LiteLLM's usage chunk
    rows = (await router.usage.report())["rows"]
    assert any(
        row["role"] == "completion" and row["model"] == PROXIED and row["requests"] == 2 for row in rows
    )


async def test_edit_and_chat_through_litellm(router, stack):
    vllm, _ = stack
    since = vllm.log_size()
    text, last = await generate(router.for_role("edit"), EDIT)
    assert text and last.finished and last.prompt_tokens > 20 and last.generated_tokens == 16
    text, last = await generate(router.for_role("chat"), CHAT)
    assert text and last.generated_tokens == 8
    assert vllm.log_since(since).count("Received request chatcmpl-") == 2
    usage = {row["role"]: row for row in (await router.usage.report())["rows"]}
    assert usage["edit"]["model"] == PROXIED and usage["edit"]["completion_tokens"] == 16
    assert usage["chat"]["requests"] == 1 and usage["chat"]["prompt_tokens"] > 0


async def test_a_wrong_key_is_a_clear_error_that_is_not_retried(stack, monkeypatch):
    _, proxy = stack
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-0123")
    # Without a database LiteLLM knows only its master key; any other key is looked up in
    # the database it does not have, hence 400 "No connected db." (401 with a database).
    remote = engine(proxy)
    with pytest.raises(BackendError, match="HTTP 400: No connected db") as err:
        await generate(remote, GenerationRequest("k1", QWEN.render("def f(", "):\n"), 4))
    await remote.aclose()
    assert not err.value.retryable
    assert "sk-wrong-key-0123" not in str(err.value) and proxy.master_key not in str(err.value)


async def finished_by_length(vllm: VllmServe) -> float:
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"http://127.0.0.1:{vllm.port}/metrics", timeout=10)).text
    pattern = r'^vllm:request_success_total\{[^}]*finished_reason="length"[^}]*\} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE))


@pytest.mark.parametrize("kind", ["completion", "chat"])
async def test_a_closed_stream_ends_in_vllm_by_abort_or_at_its_length(stack, kind):
    """LiteLLM 1.108.0 does not close its upstream stream when its client disconnects.

    Its disconnect clean-up closes its own wrappers but not the provider stream,
    so vLLM learns of it only when LiteLLM's garbage collector drops the
    connection (an abort, sometimes at once) or when the answer reaches its
    length. Here: the request ends one way or the other, never hangs; which
    way is not deterministic. docs/backends.md says so.
    """
    vllm, proxy = stack
    finished = await finished_by_length(vllm)
    since = vllm.log_size()
    tokens = 2000  # seconds of work: still running when the stream closes after two pieces
    if kind == "chat":
        request = GenerationRequest("long", "", tokens, messages=(ChatMessage("user", "Write a story."),))
    else:
        request = GenerationRequest("long", QWEN.render(CODE, "\n"), tokens)
    remote = engine(proxy, extra_body={"min_tokens": tokens})
    async with aclosing(remote.generate(request)) as stream:
        await anext(stream)
        await anext(stream)
    assert remote.unfinished_requests() == 0

    async def ended() -> bool:
        return " aborted." in vllm.log_since(since) or await finished_by_length(vllm) > finished

    await wait_until(ended, 120, "vLLM to end the request (aborted or at its length)", 0.5)
    prefix = "chatcmpl-" if kind == "chat" else "cmpl-"
    assert vllm.log_since(since).count(f"Received request {prefix}") == 1
    await remote.aclose()
