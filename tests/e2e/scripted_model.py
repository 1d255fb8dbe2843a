"""A scripted model for the editor tests, whose answers depend on what it is asked, so a test
knows in advance what the editor will show (the tiny test model writes noise).

Point a profile at a FakeOpenAI answering with ``scripted(...)`` (next_edit_model.profile
builds the profile): completions by the cursor's line, edits by their instruction, next edits
by ``next_edits`` (e.g. next_edit_model.following_renames), anything else with ``chat``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aicockpit.prompt.next_edit import REGION_START

FIM_SUFFIX = "<|fim_suffix|>"  # the FIM tokens of the tiny model's tokenizer (Qwen's)
Answer = Callable[[dict[str, Any]], tuple[str, ...]]


def cursor_line(prompt: str) -> str:
    """The cursor's line up to the cursor, as the FIM prompt holds it."""
    prefix = prompt.split(FIM_SUFFIX, 1)[0]
    return prefix.rsplit("\n", 1)[-1]


def completion(answers: dict[str, str], prompt: str) -> str:
    """``answers[key]`` where the cursor's line holds ``key`` (the longest such key), minus
    what the user has typed of it since; nothing elsewhere."""
    line = cursor_line(prompt)
    for key in sorted(answers, key=len, reverse=True):
        start = line.rfind(key)
        typed = line[start + len(key) :] if start >= 0 else None
        if typed is not None and answers[key].startswith(typed):
            return answers[key][len(typed) :]
    return ""


def scripted(
    completions: dict[str, str] | None = None,
    edits: dict[str, str] | None = None,
    next_edits: Answer | None = None,
    chat: str = "",
) -> Answer:
    """A model answering completions from ``completions``, an edit whose instruction is a key
    of ``edits`` with its value (the new code), next edits with ``next_edits``, the rest with
    ``chat``."""

    def answer(body: dict[str, Any]) -> tuple[str, ...]:
        messages = body.get("messages")
        if messages is None:
            return (completion(completions or {}, body.get("prompt", "")),)
        asked = messages[-1]["content"]
        if REGION_START in asked and next_edits is not None:
            return next_edits(body)
        instruction = re.search(r"^Instruction: (.*)$", asked, re.M)
        if instruction and instruction[1] in (edits or {}):
            return (f"```\n{edits[instruction[1]]}\n```",)
        return (chat,)

    return answer
