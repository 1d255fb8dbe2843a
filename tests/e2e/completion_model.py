"""A scripted completion model for the editor tests: what it suggests depends on the line it is
asked on, so a test knows the ghost text in advance (the tiny test model writes noise).

Point a profile at a FakeOpenAI answering with ``completing(...)`` (next_edit_model.profile
builds the profile); chat-format requests (next edits, edits, chat) go to ``otherwise``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FIM_SUFFIX = "<|fim_suffix|>"  # the tiny model's tokenizer has Qwen's FIM tokens


def cursor_line(prompt: str) -> str:
    """The cursor's line up to the cursor, as the FIM prompt holds it."""
    prefix = prompt.split(FIM_SUFFIX, 1)[0]
    return prefix.rsplit("\n", 1)[-1]


def completing(
    answers: dict[str, str], otherwise: Callable[[dict[str, Any]], tuple[str, ...]] | None = None
) -> Callable[[dict[str, Any]], tuple[str, ...]]:
    """Suggests ``answers[key]`` where the cursor's line ends with ``key`` (the longest such key),
    minus what the user has typed of it since; nothing elsewhere."""

    def answer(body: dict[str, Any]) -> tuple[str, ...]:
        if "messages" in body:
            return otherwise(body) if otherwise else ("",)
        line = cursor_line(body.get("prompt", ""))
        for key in sorted(answers, key=len, reverse=True):
            start = line.rfind(key)
            if start < 0:
                continue
            typed = line[start + len(key) :]
            if answers[key].startswith(typed):
                return (answers[key][len(typed) :],)
        return ("",)

    return answer
