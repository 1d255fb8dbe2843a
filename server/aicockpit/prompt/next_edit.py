"""Next-edit prompts: the user's recent edits and the code around the cursor, for a model that
rewrites a region of it.

Formats (``next_edit.format``; auto picks zeta for a model named like Zed's Zeta):

- ``zeta``: the layout Zed's Zeta models (Qwen2.5-Coder fine-tunes) were trained on: a
  "User Edits" section of diff hunks, a "User Excerpt" section with the editable region
  between markers and the cursor marker, then "Response"; the model answers with the
  rewritten region between the same markers. A plain completion prompt.
- ``instruct``: the same facts as a conversation, for any chat model.

Layout for the prefix cache: the instruction (never changes), then the edits, oldest first
(a new edit is appended at their end), then the excerpt (changes with every keystroke).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aicockpit.context.edits import EditHunk
from aicockpit.generation import GenerationRequest, Priority
from aicockpit.prompt.chat import Message
from aicockpit.prompt.requests import ConversationRequest, engine_request

REGION_START = "<|editable_region_start|>"
REGION_END = "<|editable_region_end|>"
CURSOR = "<|user_cursor_is_here|>"
FILE_START = "<|start_of_file|>"
# The region's end marker, then the ends of a turn: an answer that stopped at the marker is complete.
STOPS = (REGION_END, "<|endoftext|>", "<|im_end|>")

# What introduces the code at the cursor, in the zeta and the instruct layout: before it, the
# prompt changes only with a new edit.
EXCERPT_HEADS = ("### User Excerpt:", "The code at the cursor:")
ZETA_HEAD = (
    "### Instruction:\n"
    "Rewrite the excerpt the user is editing with the edit they are most likely to make next,"
    " judging from their recent edits and where their cursor is; keep everything else as it is.\n\n"
    "### User Edits:\n\n"
)
INSTRUCT_SYSTEM = (
    "You predict a programmer's next edit. You get their recent edits as diffs and the code around"
    f" their cursor, where the lines between {REGION_START} and {REGION_END} may be changed and"
    f" {CURSOR} marks the cursor. Make the change their recent edits call for next (often the same"
    " change in another place), or none. Reply with the rewritten lines between the same two"
    " markers, nothing else."
)


@dataclass(frozen=True)
class EditWindow:
    """The code around the cursor: the editable region and some read-only lines around it."""

    path: str
    before: str  # whole lines above the region
    region: str  # the editable lines (whole lines)
    cursor: int  # the cursor's offset in ``region``
    after: str  # whole lines below the region
    at_file_start: bool
    first_line: int  # the region's first line in the document (0-based)


@dataclass(frozen=True)
class NextEditPrompt:
    format: str
    text: str  # zeta: the completion prompt
    messages: list[Message] | None  # instruct: the conversation
    stop: tuple[str, ...]


def excerpt(window: EditWindow) -> str:
    region = window.region[: window.cursor] + CURSOR + window.region[window.cursor :]
    start = f"{FILE_START}\n" if window.at_file_start else ""
    return f"```{window.path}\n{start}{window.before}{REGION_START}\n{region}{REGION_END}\n{window.after}```"


def render_hunk(hunk: EditHunk, path: str) -> str:
    header = f"@@ -{hunk.old_start + 1},{len(hunk.old)} +{hunk.new_start + 1},{len(hunk.new)} @@"
    lines = [f" {line}" for line in hunk.context_before]
    lines += [f"-{line}" for line in hunk.old] + [f"+{line}" for line in hunk.new]
    lines += [f" {line}" for line in hunk.context_after]
    return f'User edited "{path}":\n```diff\n{header}\n' + "\n".join(lines) + "\n```"


def history(hunks: Sequence[tuple[EditHunk, str]], tokens: Any, budget: int) -> str:
    """The newest edits that fit ``budget`` tokens, oldest first."""
    kept: list[str] = []
    used = 0
    for hunk, path in reversed(hunks):
        text = render_hunk(hunk, path)
        cost = tokens.count(text) + 2
        if used + cost > budget:
            break
        kept.append(text)
        used += cost
    return "\n\n".join(reversed(kept))


def build_prompt(form: str, edits: str, window: EditWindow) -> NextEditPrompt:
    shown = excerpt(window)
    if form == "zeta":
        text = f"{ZETA_HEAD}{edits}\n\n{EXCERPT_HEADS[0]}\n\n{shown}\n\n### Response:\n\n"
        return NextEditPrompt("zeta", text, None, STOPS)
    user = f"Recent edits (oldest first):\n\n{edits or '(none yet)'}\n\n{EXCERPT_HEADS[1]}\n\n{shown}"
    messages = [{"role": "system", "content": INSTRUCT_SYSTEM}, {"role": "user", "content": user}]
    return NextEditPrompt("instruct", "", messages, STOPS)


@dataclass(frozen=True)
class NextEditRequest:
    """Builds a next-edit request for a backend: its format (from the model's name), the recent
    edits that fit its tokenizer's count of ``history_tokens``, the window, and room to write the
    region again with some growth (``max_tokens`` at most)."""

    configured_format: str
    hunks: tuple[tuple[EditHunk, str], ...]
    window: EditWindow
    request_id: str
    history_tokens: int
    max_tokens: int
    temperature: float

    def prompt(self, target: Any) -> NextEditPrompt:
        edits = history(self.hunks, target.tokenizer, self.history_tokens)
        return build_prompt(choose_format(self.configured_format, target.model_name), edits, self.window)

    def build(self, target: Any) -> GenerationRequest:
        prompt = self.prompt(target)
        max_tokens = min(self.max_tokens, 2 * target.tokenizer.count(self.window.region) + 64)
        if prompt.messages is not None:
            conversation = ConversationRequest(
                tuple(prompt.messages), self.request_id, max_tokens, Priority.NEXT_EDIT, self.temperature,
                prompt.stop,
            )  # fmt: skip
            return conversation.build(target, builder=self)
        return engine_request(
            target,
            request_id=self.request_id,
            priority=Priority.NEXT_EDIT,
            max_tokens=max_tokens,
            temperature=self.temperature,
            text=prompt.text,
            stop=prompt.stop,
            builder=self,
        )


def stable_head(prompt: str) -> str:
    """The start of a next-edit prompt that the cursor's excerpt does not change: the instruction
    and the recent edits (what pre-warming fills the prefix cache with)."""
    cuts = [at for at in (prompt.find(head) for head in EXCERPT_HEADS) if at >= 0]
    return prompt[: min(cuts)] if cuts else ""


def choose_format(configured: str, model_name: str) -> str:
    if configured != "auto":
        return configured
    return "zeta" if "zeta" in model_name.lower() else "instruct"


def parse_region(output: str, old_region: str, ended: bool) -> str | None:
    """The rewritten region from the model's answer; None when it has none.

    ``ended``: the answer stopped at the end marker (a stop string, so not in the
    text); otherwise a region without its end marker was cut off and is unusable.
    """
    start = output.find(REGION_START)
    if start < 0:
        return None
    start += len(REGION_START)
    end = output.find(REGION_END, start)
    if end < 0:
        if not ended:
            return None
        end = len(output)
    region = output[start:end].replace(CURSOR, "")
    if region.startswith("\n"):
        region = region[1:]
    if old_region.endswith("\n") and not region.endswith("\n"):
        region += "\n"
    return region
