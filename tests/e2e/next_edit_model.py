"""A scripted next-edit model for the editor tests (VS Code, Neovim).

The tiny test model writes noise, so the ``next_edit`` role points at a FakeOpenAI whose
answer is computed from the prompt: it takes the editable region the server marked and
gives it back rewritten by a plain function. A suggestion is then deterministic, whatever
window around the cursor the server chose.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aicockpit.prompt.next_edit import CURSOR, REGION_END, REGION_START
from tests.fake_openai import FakeOpenAI
from tests.support import tiny_model

PROFILE = "scripted"


def rewriting(transform: Callable[[str], str]) -> Callable[[dict[str, Any]], tuple[str, ...]]:
    """An answer that is the prompt's editable region passed through ``transform``."""

    def answer(body: dict[str, Any]) -> tuple[str, ...]:
        messages = body.get("messages") or []
        prompt = messages[-1]["content"] if messages else body.get("prompt", "")
        start = prompt.rfind(REGION_START)
        end = prompt.find(REGION_END, start)
        if start < 0 or end < 0:
            return ("no region here",)
        region = prompt[start + len(REGION_START) : end].replace(CURSOR, "")
        return (REGION_START, transform(region), REGION_END)

    return answer


def following_renames(parameters: dict[str, list[str]]) -> Callable[[dict[str, Any]], tuple[str, ...]]:
    """A model that finishes the user's renames: ``parameters`` are the original parameter names
    of some functions; where the region shows one of them renamed in its ``def`` line, every use
    of the old name after that line (up to the next ``def``) is renamed too."""

    def transform(region: str) -> str:
        for name, originals in parameters.items():
            signature = re.search(rf"def {name}\(([^)]*)\)", region)
            if signature is None:
                continue
            now = [p.strip() for p in signature[1].split(",")]
            body_end = region.find("\ndef ", signature.end())
            body_end = len(region) if body_end < 0 else body_end
            body = region[signature.end() : body_end]
            for old, new in zip(originals, now, strict=False):
                if new and new != old:
                    body = re.sub(rf"\b{re.escape(old)}\b", new, body)
            region = region[: signature.end()] + body + region[body_end:]
        return region

    return rewriting(transform)


UNCHANGED = rewriting(lambda region: region)  # nothing to suggest


def profile(url: str) -> dict[str, Any]:
    return {"backend": "openai", "url": url, "model": PROFILE, "tokenizer": str(tiny_model())}


@contextmanager
def in_thread(fake: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """Serve ``fake`` from an event loop of its own, for tests that are not async (selenium)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(fake.__aenter__(), loop).result(30)
        yield fake
        asyncio.run_coroutine_threadsafe(fake.__aexit__(None, None, None), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
