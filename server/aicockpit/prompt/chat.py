"""Chat-style prompts for edits, chat, docstrings and shell suggestions.

Messages are plain ``{"role", "content"}`` dicts; the engine's tokenizer renders
them with the model's own chat template. Reading the model's reply back (the
code block of an edit) lives here too, next to the prompt that asked for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Message = dict[str, str]

SYSTEM_CODER = (
    "You are aicockpit, a precise coding assistant inside the user's editor. "
    "Answer briefly and correctly; show code in fenced blocks."
)
SYSTEM_EDITOR = (
    "You rewrite code as instructed. Reply with the complete rewritten code only, in a single "
    "fenced code block, keeping the original indentation. Change nothing the instruction does not ask for."
)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)


@dataclass(frozen=True)
class ContextSnippet:
    """Code shown to the model, and why."""

    source: str
    start_line: int
    end_line: int
    text: str
    reason: str

    def render(self) -> str:
        where = f"{self.source} (lines {self.start_line + 1}-{self.end_line + 1}, {self.reason})"
        return f"{where}:\n```\n{self.text}\n```"


def count_messages(tokenizer, messages: Sequence[Message]) -> int:
    """Prompt tokens of a conversation: exact with a chat template, else estimated."""
    render = getattr(tokenizer, "chat_prompt", None)
    if render is not None:
        return tokenizer.count(render(list(messages)))
    return sum(tokenizer.count(m["content"]) + 4 for m in messages)


def as_chat(messages: Sequence[Message]) -> tuple:
    from aicockpit.engine.base import ChatMessage

    return tuple(ChatMessage(m["role"], m["content"]) for m in messages)


def edit_messages(
    *,
    path: str,
    language: str,
    code: str,
    instruction: str,
    before: str,
    after: str,
    problems: Sequence[str] = (),
) -> list[Message]:
    parts = [f"File: {path} ({language})"]
    if before.strip():
        parts.append(
            f"Code before the part to change (context, do not repeat it):\n```{language}\n{before}\n```"
        )
    parts.append(f"Code to change:\n```{language}\n{code}\n```")
    if after.strip():
        parts.append(f"Code after it (context, do not repeat it):\n```{language}\n{after}\n```")
    if problems:
        parts.append("Problems reported here:\n" + "\n".join(f"- {p}" for p in problems))
    parts.append(f"Instruction: {instruction}")
    return [{"role": "system", "content": SYSTEM_EDITOR}, {"role": "user", "content": "\n\n".join(parts)}]


def chat_messages(
    history: Sequence[Message], message: str, snippets: Sequence[ContextSnippet]
) -> list[Message]:
    system = SYSTEM_CODER
    if snippets:
        system += "\n\nCode the user refers to:\n\n" + "\n\n".join(s.render() for s in snippets)
    return [{"role": "system", "content": system}, *history, {"role": "user", "content": message}]


def docstring_messages(*, language: str, code: str) -> list[Message]:
    return [
        {"role": "system", "content": SYSTEM_CODER},
        {
            "role": "user",
            "content": f"Write a short documentation comment for this {language} code. Reply with the "
            f"text of the comment only, without comment markers or quotes.\n```{language}\n{code}\n```",
        },
    ]


def shell_messages(description: str, platform: str) -> list[Message]:
    return [
        {"role": "system", "content": SYSTEM_CODER},
        {
            "role": "user",
            "content": f"Suggest one shell command for {platform} that does this: {description}\n"
            "Reply with the command in a fenced block, then one line explaining it.",
        },
    ]


def extract_code(reply: str) -> str:
    """The first fenced block of a reply, or the whole reply when it has none."""
    match = _FENCE.search(reply)
    code = match.group(1) if match else reply
    return code.rstrip("\n")


def split_command(reply: str) -> tuple[str, str]:
    """A shell suggestion's command and its one-line explanation."""
    match = _FENCE.search(reply)
    if match:
        command = match.group(1).strip().split("\n")[0]
        rest = (reply[: match.start()] + reply[match.end() :]).strip()
    else:
        lines = [line for line in reply.strip().split("\n") if line.strip()]
        command, rest = (lines[0] if lines else ""), "\n".join(lines[1:])
    explanation = rest.split("\n")[0].strip() if rest else ""
    return command.strip(), explanation
