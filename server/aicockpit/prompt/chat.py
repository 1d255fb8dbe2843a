"""Chat-style prompts for edits, chat, docstrings and shell suggestions.

Messages are plain ``{"role", "content"}`` dicts; requests.py's
``ConversationRequest`` turns them into the engine request: for a chat API the
messages go as they are (the server applies the model's template); for a text
engine (embedded vLLM) they are rendered here with the model's own chat
template (``render_chat``), and that text is what the engine sends. Reading the
model's reply back (the code block of an edit) lives here too, next to the prompt
that asked for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aicockpit.context.retrieve import ContextSnippet
from aicockpit.generation import TokenCounter

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


def render_reference(snippet: ContextSnippet) -> str:
    """Code shown to the model in a chat message, with where it comes from and why."""
    where = f"{snippet.path} (lines {snippet.start_line + 1}-{snippet.end_line + 1}, {snippet.reason})"
    return f"{where}:\n```\n{snippet.text}\n```"


def render_chat(tokenizer: TokenCounter, messages: Sequence[Message]) -> str:
    """The conversation as one text: the model's chat template, or ChatML when it has none."""
    apply = getattr(tokenizer, "chat_template", None)
    text = apply(list(messages)) if apply is not None else None
    if text is None:
        turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        text = turns + "<|im_start|>assistant\n"
    return text


def count_messages(tokenizer: TokenCounter, messages: Sequence[Message]) -> int:
    """Prompt tokens of a conversation, as rendered for the model."""
    return tokenizer.count(render_chat(tokenizer, messages))


def edit_messages(
    *,
    path: str,
    language: str,
    code: str,
    instruction: str,
    before: str,
    after: str,
    problems: Sequence[str] = (),
    definitions: Sequence[ContextSnippet] = (),
) -> list[Message]:
    parts = [f"File: {path} ({language})"]
    if definitions:
        parts.append(
            "Definitions from elsewhere in the project that this code uses (context):\n\n"
            + "\n\n".join(render_reference(d) for d in definitions)
        )
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
        system += "\n\nCode the user refers to:\n\n" + "\n\n".join(render_reference(s) for s in snippets)
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
