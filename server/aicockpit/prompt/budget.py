"""Token budgets of a completion prompt, sized to the latency target on the machine at hand.

A prompt costs its prefill: on a GPU a few thousand tokens take milliseconds, on a
2-core CPU they take seconds. The budgets follow the engine's measured speed
(``EngineSpeed``, measured by the router from the warm-up and every request):

- the whole prompt (prefix, suffix, header, repository context) is what a cold
  request prefills, so its size comes from ``latency_target_ms.cold``: the prefill
  and a one-line answer fit in it;
- while the user types, everything but the cursor's line is in the prefix cache:
  what is computed again (that line, and the suffix in fill-in-the-middle prompts)
  and the tokens generated come from ``latency_target_ms.cached``.

Budgets the user set explicitly win, clamped only to what the model's context
holds. Until the engine has been measured, or with ``completion.adaptive_budgets``
off, unset budgets take the fixed defaults (``FIXED``).

How the total is split was decided with ``scripts/bench_quality.py``'s ablations
(docs/quality.md, "How much context a slow machine gets"): the code before the
cursor comes first; a model without fill-in-the-middle training gets repository
context only once that code has a full window, since with SmolLM2 context changed
no answer while it made every prompt much longer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aicockpit.config import AicockpitConfig, CompletionConfig
from aicockpit.generation import EngineSpeed

log = logging.getLogger(__name__)

# Room left for what per-line token counts cannot see: tokens merging across the
# joins between snippets, markers and code.
SAFETY_TOKENS = 16
EXPECTED_LINE_TOKENS = 16  # a one-line suggestion, as the cold target counts it
CACHE_MISS_TOKENS = 48  # while typing: the cursor's line and the part of a KV block before it
MIN_PREFIX_TOKENS = 256  # however slow the machine: enough code to complete (the status says slow)
MIN_CONTEXT_TOKENS = 96  # less than this holds no useful snippet
MAX_TOKENS_RANGE = (16, 128)
SUFFIX_SHARE_OF_CACHED = 0.25  # of the cached target, the suffix's prefill at every keystroke
# The suffix follows the cursor: it is prefilled again at every keystroke, and post-processing
# reads it at every token. Even on a fast machine it stays at the fixed default: 399 tokens of
# it took the tiny-model bench's large-file trace from 0.89 to 0.82 cached and added 0.2 ms of
# server time per request, for code far below the cursor that the model rarely needs.
SUFFIX_CAP = 128
HEADER_CAP, HEADER_SHARE = 256, 0.08
# Of the prompt, the share repository context gets: fill-in-the-middle code models are trained
# with repository context. A model without FIM tokens (a general instruct model) gets context
# only once the code before the cursor has PREFIX_FIRST tokens: on SmolLM2 it changed no answer
# (within a case or two of 16 per kind) while it made prompts 74% longer (docs/quality.md).
CONTEXT_SHARE = {"fim": 0.35, "prefix": 0.15}
PREFIX_FIRST = 1024
# However fast the machine: more snippets churn more as the cursor moves (each change makes the
# rest of the prompt new to the prefix cache) and cost the server more per keystroke. With 1,400
# tokens of context the tiny-model bench's large-file trace fell from 0.89 to 0.81 cached.
CONTEXT_CAP = 1024
PREFIX_CAP = 4096
STEADY_SHARE = 0.25  # budgets are sized again when the measured speed moves by more than this


@dataclass(frozen=True)
class FixedBudgets:
    prefix: int = 1536
    suffix: int = 128
    header: int = 128
    context: int = 1024
    max_tokens: int = 64


FIXED = FixedBudgets()


@dataclass(frozen=True)
class Budgets:
    prefix: int
    suffix: int  # sent in the prompt or the suffix field; 0 when the format sends none
    header: int
    context: int
    max_tokens: int
    source: str = "fixed"  # measured: sized to the latency target; fixed: the defaults

    def describe(self, config: CompletionConfig) -> dict[str, Any]:
        target = config.latency_target_ms
        return {
            "source": self.source,
            "prefix_tokens": self.prefix,
            "suffix_tokens": self.suffix,
            "header_tokens": self.header,
            "context_tokens": self.context,
            "max_tokens": self.max_tokens,
            "latency_target_ms": {"cold": target.cold, "cached": target.cached},
        }


class BudgetPlanner:
    """Budgets per request, from the config and the engine's speed; warns once about clamped settings."""

    def __init__(self) -> None:
        self._warned: set[tuple[tuple[str, ...], int]] = set()  # (clamped budgets, context length)
        # The speed the budgets were last sized to, per (context length, sends suffix, fills middle).
        self._basis: dict[tuple[int, bool, bool], EngineSpeed] = {}

    def _steady(self, key: tuple[int, bool, bool], speed: EngineSpeed) -> EngineSpeed:
        """The speed to size budgets to: the last one, until the measurement moves by more than
        ``STEADY_SHARE``. Budgets decide where the prompt starts (the prefix window's anchor, the
        header): if they followed every wobble of the estimate, the next prompt would share
        nothing with the one in the prefix cache."""
        basis = self._basis.get(key)
        if basis is None or _moved(basis, speed):
            self._basis[key] = basis = speed
        return basis

    def plan(
        self,
        config: AicockpitConfig,
        speed: EngineSpeed | None,
        context_length: int,
        framing: int = 0,
        sends_suffix: bool = True,
        fills_middle: bool = True,
    ) -> Budgets:
        completion, context = config.completion, config.context
        measured = completion.adaptive_budgets and speed is not None and speed.measured
        auto = FIXED
        if measured:
            assert speed is not None
            speed = self._steady((context_length, sends_suffix, fills_middle), speed)
            auto = _sized(completion, speed, sends_suffix, fills_middle, context_length, framing)
        max_tokens = completion.max_tokens or auto.max_tokens
        wanted = (
            ("prefix", completion.prefix_tokens, auto.prefix),
            ("suffix", completion.suffix_tokens, auto.suffix if sends_suffix else 0),
            ("header", context.header_tokens, auto.header),
            ("context", context.budget_tokens, auto.context if context.enabled else 0),
        )
        # When they do not all fit, repository context gives way first, then the
        # file's header, then the suffix; the code before the cursor goes last.
        room = max(0, context_length - max_tokens - framing - SAFETY_TOKENS)
        granted: dict[str, int] = {}
        clamped = []
        for name, explicit, default in wanted:
            want = default if explicit is None else explicit
            if name == "suffix" and not sends_suffix:
                want = 0
            if name == "context" and not context.enabled:
                want = 0
            granted[name] = min(want, room)
            if explicit is not None and granted[name] < want:
                clamped.append(f"{name} {want} -> {granted[name]}")
            room -= granted[name]
        if clamped:
            self._warn_once(clamped, context_length)
        return Budgets(
            granted["prefix"],
            granted["suffix"],
            granted["header"],
            granted["context"],
            max_tokens,
            "measured" if measured else "fixed",
        )

    def deadline_ms(
        self, config: CompletionConfig, speed: EngineSpeed | None, prompt_tokens: int, invoked: bool = False
    ) -> float:
        """How long a completion may take: the setting, else enough for this prompt on this machine.

        A slow machine answers late rather than never: the deadline grows with the
        time the prompt is predicted to take cold (the cached case is faster), and is
        never below the cold target. An explicit request (the user pressed a key for
        it) waits twice as long.
        """
        if config.timeout_ms is not None:
            return float(config.timeout_ms)
        cold = config.latency_target_ms.cold
        predicted = speed.predict_ms(prompt_tokens, EXPECTED_LINE_TOKENS) if speed is not None else None
        deadline = 2.0 * cold if predicted is None else max(cold, 1.5 * predicted + 250)
        return deadline * (2 if invoked else 1)

    def _warn_once(self, clamped: list[str], context_length: int) -> None:
        key = (tuple(clamped), context_length)
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning(
            "completion budgets set larger than the model's context (%d tokens) are clamped: %s",
            context_length,
            ", ".join(clamped),
        )


def _moved(basis: EngineSpeed, speed: EngineSpeed) -> bool:
    def apart(a: float | None, b: float | None) -> bool:
        return a is None or b is None or abs(a - b) > STEADY_SHARE * max(a, b)

    return apart(basis.prefill_tokens_per_s, speed.prefill_tokens_per_s) or apart(
        basis.decode_ms_per_token, speed.decode_ms_per_token
    )


def _sized(
    config: CompletionConfig,
    speed: EngineSpeed,
    sends_suffix: bool,
    fills_middle: bool,
    context_length: int,
    framing: int,
) -> FixedBudgets:
    """Budgets that meet the latency targets at ``speed`` (which is measured), within the context.

    ``framing``: the prompt's tokens outside the budgets (path lines, markers).
    """
    assert speed.prefill_tokens_per_s is not None and speed.decode_ms_per_token is not None
    rate, decode = speed.prefill_tokens_per_s, speed.decode_ms_per_token
    base = speed.base_ms if speed.base_ms is not None else decode
    target = config.latency_target_ms
    # While typing: the suffix is prefilled again at every keystroke, so it gets a share
    # of the cached target; the tokens generated get what is left after the cursor's line.
    suffix = 0
    if sends_suffix:
        suffix = min(SUFFIX_CAP, int(target.cached * SUFFIX_SHARE_OF_CACHED * rate / 1000))
    typing_ms = (CACHE_MISS_TOKENS + suffix) / rate * 1000
    max_tokens = int((target.cached - base - typing_ms) / decode) + 1
    max_tokens = max(MAX_TOKENS_RANGE[0], min(MAX_TOKENS_RANGE[1], max_tokens))
    # Cold: the whole prompt is prefilled, then one line is written. On a fast machine
    # that is more than the model holds: then the model's context is the limit.
    line_ms = base + (EXPECTED_LINE_TOKENS - 1) * decode
    total = max(MIN_PREFIX_TOKENS, int((target.cold - line_ms) * rate / 1000) - framing)
    total = min(total, context_length - framing - (config.max_tokens or max_tokens) - SAFETY_TOKENS)
    suffix = min(suffix, int(total * 0.1))
    header = min(HEADER_CAP, int(total * HEADER_SHARE))
    context = min(CONTEXT_CAP, int(total * CONTEXT_SHARE["fim" if fills_middle else "prefix"]))
    if not fills_middle:
        context = min(context, max(0, total - PREFIX_FIRST - header))
    if context < MIN_CONTEXT_TOKENS:
        context = 0
    prefix = min(PREFIX_CAP, max(MIN_PREFIX_TOKENS, total - suffix - header - context))
    return FixedBudgets(prefix, suffix, header, context, max_tokens)
