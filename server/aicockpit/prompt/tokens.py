"""Token counts that stay cheap from keystroke to keystroke.

Counting the whole prefix window with the model's tokenizer at every keystroke
(thousands of characters, several times while the window is fitted) costs far
more than the rest of a context build. Lines rarely change between keystrokes, so
counts are cached per line and summed. The sum can differ from counting the joined
text by a token at a line boundary where the tokenizer would merge a newline with
the next line's indentation; it errs towards more tokens, so budgets hold.
"""

from __future__ import annotations

from aicockpit.generation import TokenCounter

MAX_LINES = 200_000


class LineCachedCounter:
    """A TokenCounter whose ``count`` sums cached per-line counts."""

    def __init__(self, tokens: TokenCounter) -> None:
        self.tokens = tokens
        self._lines: dict[str, int] = {}

    def count(self, text: str) -> int:
        if not text:
            return 0
        # Each piece is counted with its newline; the last piece has none, so the
        # sum may be one token high: on the safe side of a budget.
        return sum(self.piece_counts(text.split("\n")))

    def piece_counts(self, pieces: list[str]) -> list[int]:
        """The count of each piece of ``text.split("\\n")``: ``count(text)`` is their sum."""
        cache = self._lines
        if len(cache) > MAX_LINES:
            cache.clear()
        count = self.tokens.count
        out = []
        for line in pieces:
            cached = cache.get(line)
            if cached is None:
                cached = cache[line] = count(line + "\n")
            out.append(cached)
        return out

    def head(self, text: str, tokens: int) -> str:
        return self.tokens.head(text, tokens)

    def tail(self, text: str, tokens: int) -> str:
        return self.tokens.tail(text, tokens)

    def special_tokens(self) -> set[str]:
        return self.tokens.special_tokens()
