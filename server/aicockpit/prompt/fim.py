"""Code prompt templates for the model families aicockpit supports, and the cursor's window.

Fill-in-the-middle templates put the code after the cursor in the prompt; the
``prefix`` template is for models without FIM tokens (general instruct models):
it sends only the code before the cursor, and post-processing stops the
suggestion where it would run into the code after it.

The prefix window starts on a line that is a multiple of ``ANCHOR_LINES``, so
while the user types, the start of the prompt (and vLLM's cached KV blocks for
it) stays put instead of sliding by a line at every keystroke.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from aicockpit.generation import TokenCounter

ANCHOR_LINES = 32
CHARS_PER_TOKEN_GUESS = 8  # generous, so the character pre-cut never starves the budget


@dataclass(frozen=True)
class FimTemplate:
    name: str
    prefix: str
    suffix: str
    middle: str
    stop: tuple[str, ...]

    @property
    def fills_middle(self) -> bool:
        return bool(self.middle)

    def render(self, before: str, after: str) -> str:
        """Prefix-suffix-middle order: the prefix, which changes least, comes first."""
        if not self.fills_middle:
            return before  # a prefix-only prompt: the suffix is not sent
        return f"{self.prefix}{before}{self.suffix}{after}{self.middle}"


FIM_TEMPLATES = {
    "qwen": FimTemplate(
        "qwen",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|fim_prefix|>"),
    ),
    "starcoder": FimTemplate(
        "starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", ("<|endoftext|>", "<file_sep>")
    ),
    "deepseek": FimTemplate(
        "deepseek", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", ("<｜end▁of▁sentence｜>",)
    ),
    "codellama": FimTemplate("codellama", "<PRE> ", " <SUF>", " <MID>", ("<EOT>",)),
    "prefix": FimTemplate(
        "prefix", "", "", "", ("<|endoftext|>", "<|im_end|>", "<file_sep>", "<|file_sep|>", "</s>")
    ),
}

_MARKERS = {
    "qwen": "<|fim_prefix|>",
    "starcoder": "<fim_prefix>",
    "deepseek": "<｜fim▁begin｜>",
    "codellama": "<PRE>",
}


def detect_template(special_tokens: set[str], configured: str = "auto") -> FimTemplate:
    """The configured template, or the one whose FIM tokens the tokenizer has (else prefix-only)."""
    if configured != "auto":
        return FIM_TEMPLATES[configured]
    for name, marker in _MARKERS.items():
        if marker in special_tokens or f"▁{marker}" in special_tokens:
            return FIM_TEMPLATES[name]
    return FIM_TEMPLATES["prefix"]


def fim_window(
    text: str,
    offset: int,
    tokens: TokenCounter,
    prefix_budget: int,
    suffix_budget: int,
    line_starts: list[int] | None = None,
) -> tuple[str, str]:
    """The code before and after ``offset`` that fits the token budgets.

    ``line_starts`` (the offsets where the text's lines start, as the document
    keeps them) spares a scan of the prefix for its newlines.
    """
    return (
        _prefix(text, offset, tokens, prefix_budget, line_starts),
        _suffix(text, offset, tokens, suffix_budget),
    )


def _prefix(text: str, offset: int, tokens: TokenCounter, budget: int, all_starts: list[int] | None) -> str:
    earliest = max(0, offset - budget * CHARS_PER_TOKEN_GUESS)
    # The starts of the lines that begin after ``earliest`` (or at 0) up to the cursor.
    if all_starts is not None:
        first_line = 0 if earliest == 0 else bisect_right(all_starts, earliest)
        line_starts = all_starts[first_line : bisect_right(all_starts, offset)]
    else:
        line_starts = [0] if earliest == 0 else []
        at = text.find("\n", earliest, offset)
        while at != -1:
            line_starts.append(at + 1)
            at = text.find("\n", at + 1, offset)
        first_line = text.count("\n", 0, line_starts[0]) if line_starts else 0
    # Anchor candidates: absolute line numbers that are multiples of ANCHOR_LINES.
    anchors = list(range(-first_line % ANCHOR_LINES, len(line_starts), ANCHOR_LINES))
    last_anchor = anchors[-1] if anchors else -1
    tried = anchors + list(range(last_anchor + 1, len(line_starts)))
    piece_counts = getattr(tokens, "piece_counts", None)
    if piece_counts is not None and line_starts:
        # A per-line counter sums its lines: count each line once and try every start
        # with the sums from the cursor back, instead of counting each window anew.
        counts = piece_counts(text[line_starts[0] : offset].split("\n"))
        from_here = list(accumulate(reversed(counts)))[::-1] + [0]
        for i in tried:
            if line_starts[i] == offset or from_here[i] <= budget:
                return text[line_starts[i] : offset]
    else:
        for i in tried:
            window = text[line_starts[i] : offset]
            if tokens.count(window) <= budget:
                return window
    # A single line longer than the budget (minified code): keep its end.
    return tokens.tail(text[earliest:offset], budget)


def _suffix(text: str, offset: int, tokens: TokenCounter, budget: int) -> str:
    if budget <= 0:
        return ""
    window = text[offset : offset + budget * CHARS_PER_TOKEN_GUESS]
    if offset + len(window) < len(text):
        cut = window.rfind("\n")
        window = window[: cut + 1] if cut > 0 else window
    while tokens.count(window) > budget:
        cut = window.rstrip("\n").rfind("\n")
        if cut <= 0:
            return tokens.head(window, budget)
        window = window[: cut + 1]
    return window
