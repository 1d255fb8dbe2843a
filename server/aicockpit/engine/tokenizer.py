"""Token counting and cutting with the model's own tokenizer."""

from __future__ import annotations

from typing import Any


class ModelTokenizer:
    """Wraps a Hugging Face tokenizer; never adds special tokens of its own."""

    def __init__(self, hf_tokenizer: Any) -> None:
        self._tok = hf_tokenizer

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False)

    def count(self, text: str) -> int:
        return len(self.encode(text)) if text else 0

    def head(self, text: str, tokens: int) -> str:
        ids = self.encode(text)
        return text if len(ids) <= tokens else self._tok.decode(ids[:tokens])

    def tail(self, text: str, tokens: int) -> str:
        ids = self.encode(text)
        return text if len(ids) <= tokens else self._tok.decode(ids[-tokens:] if tokens else [])

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        return render_chat(self._tok, messages)

    def special_tokens(self) -> set[str]:
        specials = set(getattr(self._tok, "all_special_tokens", []) or [])
        added = getattr(self._tok, "get_added_vocab", None)
        if added is not None:
            specials.update(added())
        return specials


def render_chat(hf_tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """Messages in the model's own chat template (ChatML when it has none)."""
    if getattr(hf_tokenizer, "chat_template", None):
        return hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"
