"""An engine with a fixed latency, for measuring the server's own overhead (dev/bench only).

Selected by the hidden ``aicockpit serve --dev-engine-stub MS`` flag; the product
never uses it. It follows the Engine protocol (engine/base.py): it streams
``STUB_TOKENS`` tokens evenly over the latency, honours cancellation (closing
the stream aborts it), and emulates a block prefix cache so the cached-token
figures stay meaningful.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aicockpit.config import EngineConfig
from aicockpit.generation import GenerationDelta, GenerationRequest, PromptFormat

CHARS_PER_TOKEN = 4
BLOCK_TOKENS = 16
STUB_TOKENS = 12
STUB_TEXT = ("result = compute(value)", "\n", "return result")
FIM_TOKENS = {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>"}


class StubTokenizer:
    """Four characters a token: close enough for budgets."""

    def count(self, text: str) -> int:
        return -(-len(text) // CHARS_PER_TOKEN)

    def head(self, text: str, tokens: int) -> str:
        return text[: tokens * CHARS_PER_TOKEN]

    def tail(self, text: str, tokens: int) -> str:
        return text[len(text) - tokens * CHARS_PER_TOKEN :] if tokens else ""

    def special_tokens(self) -> set[str]:
        return set(FIM_TOKENS)


class BlockPrefixCache:
    """Like vLLM's prefix cache: a block counts if it and everything before it was seen."""

    def __init__(self) -> None:
        self._blocks: set[bytes] = set()

    def clear(self) -> None:
        self._blocks.clear()

    def cached_tokens(self, prompt: str) -> int:
        size = BLOCK_TOKENS * CHARS_PER_TOKEN
        digest = hashlib.blake2b(digest_size=16)
        cached, hit = 0, True
        for start in range(0, len(prompt) - size + 1, size):
            digest.update(prompt[start : start + size].encode())
            key = digest.digest()
            if hit and key in self._blocks:
                cached += BLOCK_TOKENS
            else:
                hit = False
                self._blocks.add(key)
        if len(self._blocks) > 200_000:
            self._blocks.clear()
        return cached


class StubEngine:
    def __init__(self, latency_ms: float, model_name: str = "stub") -> None:
        self.model_name = model_name
        self.tokenizer = StubTokenizer()
        self.prompt_format = PromptFormat()
        self._latency_s = latency_ms / 1000
        self._cache = BlockPrefixCache()
        self._running = 0

    def unfinished_requests(self) -> int:
        return self._running

    def failure(self) -> str | None:
        return None

    def unresponsive(self, limit_s: float) -> str | None:
        return None

    def shutdown(self) -> None:
        self._cache.clear()

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationDelta, None]:
        prompt_tokens = self.tokenizer.count(request.prompt)
        cached = self._cache.cached_tokens(request.prompt)
        text = "".join(STUB_TEXT)
        for stop in request.stop:
            if stop and stop in text:
                text = text[: text.index(stop)]
        tokens = max(1, min(request.max_tokens, STUB_TOKENS))
        step = max(1, -(-len(text) // tokens))
        pieces = [text[i : i + step] for i in range(0, len(text), step)] or [""]
        self._running += 1
        try:
            for number, piece in enumerate(pieces, 1):
                await asyncio.sleep(self._latency_s / len(pieces))
                yield GenerationDelta(
                    text=piece,
                    finished=number == len(pieces),
                    finish_reason="stop" if number == len(pieces) else None,
                    prompt_tokens=prompt_tokens,
                    cached_tokens=cached,
                    generated_tokens=number,
                )
        finally:
            self._running -= 1


def stub_factory(latency_ms: float) -> Callable[[EngineConfig], AbstractAsyncContextManager[StubEngine]]:
    """An ``EngineHost`` factory for the stub."""

    @asynccontextmanager
    async def running_stub(config: EngineConfig) -> AsyncIterator[StubEngine]:
        engine = StubEngine(latency_ms, f"stub({latency_ms:g} ms)")
        try:
            yield engine
        finally:
            engine.shutdown()

    return running_stub
