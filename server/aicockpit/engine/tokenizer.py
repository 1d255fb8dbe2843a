"""Token counting and cutting with the model's own tokenizer."""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any

# Held by a thread that imports torch, transformers or vLLM. Two threads importing
# them at once (an engine building while a remote profile loads its tokenizer) can
# meet inside accelerate's circular imports and fail with "partially initialized
# module"; one at a time, and accelerate imported whole, they cannot.
LIBRARY_IMPORTS = threading.Lock()


def import_accelerate_whole() -> None:
    """Import accelerate's mutually importing modules (if installed), with ``LIBRARY_IMPORTS`` held."""
    for name in ("accelerate.hooks", "accelerate.big_modeling"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def load_local_tokenizer(name: str) -> ModelTokenizer:
    """A model's tokenizer from its local folder (or the local Hugging Face cache), never downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with LIBRARY_IMPORTS:
        from transformers import AutoTokenizer

        import_accelerate_whole()
        return ModelTokenizer(AutoTokenizer.from_pretrained(name, local_files_only=True))


class ModelTokenizer:
    """Wraps a Hugging Face tokenizer; never adds special tokens of its own."""

    def __init__(self, hf_tokenizer: Any) -> None:
        self._tok = hf_tokenizer

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self._tok.encode(text, add_special_tokens=False)
        return ids

    def count(self, text: str) -> int:
        return len(self.encode(text)) if text else 0

    def head(self, text: str, tokens: int) -> str:
        ids = self.encode(text)
        return text if len(ids) <= tokens else self._tok.decode(ids[:tokens])

    def tail(self, text: str, tokens: int) -> str:
        ids = self.encode(text)
        return text if len(ids) <= tokens else self._tok.decode(ids[-tokens:] if tokens else [])

    def decode(self, ids: Any) -> str:
        """Token ids back to text, special tokens included (what the model saw)."""
        text: str = self._tok.decode(list(ids), skip_special_tokens=False)
        return text

    def chat_template(self, messages: list[dict[str, str]]) -> str | None:
        """Messages in the model's own chat template; None when the model has none."""
        if not getattr(self._tok, "chat_template", None):
            return None
        prompt: str = self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return prompt

    def special_tokens(self) -> set[str]:
        specials = set(getattr(self._tok, "all_special_tokens", []) or [])
        added = getattr(self._tok, "get_added_vocab", None)
        if added is not None:
            specials.update(added())
        return specials
