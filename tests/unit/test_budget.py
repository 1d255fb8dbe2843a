"""Prompt budgets sized to the machine: small on a slow CPU, up to the model's context on a GPU."""

import logging

from aicockpit.config import decode_config
from aicockpit.generation import EngineSpeed
from aicockpit.prompt.budget import FIXED, MIN_PREFIX_TOKENS, BudgetPlanner

CPU = EngineSpeed(prefill_tokens_per_s=550, decode_ms_per_token=34, base_ms=45, samples=2)  # SmolLM2 here
GPU = EngineSpeed(prefill_tokens_per_s=40000, decode_ms_per_token=6, base_ms=12, samples=2)
CRAWL = EngineSpeed(prefill_tokens_per_s=30, decode_ms_per_token=400, base_ms=400, samples=2)


def config(**options):
    config, problems = decode_config(options)
    assert not problems, problems
    return config


def total(budgets):
    return budgets.prefix + budgets.suffix + budgets.header + budgets.context


def test_on_this_cpu_a_cold_prompt_and_a_line_fit_the_cold_target():
    plan = BudgetPlanner().plan(config(), CPU, 8192, framing=20, sends_suffix=False, fills_middle=False)
    assert plan.source == "measured" and plan.suffix == 0
    predicted = CPU.predict_ms(total(plan) + 20, 16)
    assert 2000 < predicted <= 2500  # the cold target, used rather than wasted
    assert total(plan) < 1536 + 1024  # smaller than the fixed defaults
    # While typing: the cursor's line is prefilled again, then max_tokens are written.
    assert CPU.predict_ms(48, plan.max_tokens) <= 800
    assert plan.context < plan.prefix  # the code before the cursor comes first


def test_on_a_gpu_the_budgets_grow_to_what_the_model_holds():
    plan = BudgetPlanner().plan(config(), GPU, 8192, framing=20, sends_suffix=True, fills_middle=True)
    assert plan.prefix > FIXED.prefix and plan.context > FIXED.context and plan.suffix > FIXED.suffix
    assert total(plan) + plan.max_tokens + 20 <= 8192


def test_explicit_settings_win_and_unmeasured_engines_get_the_fixed_defaults():
    planner = BudgetPlanner()
    explicit = config(completion={"prefix_tokens": 3000, "max_tokens": 40}, context={"budget_tokens": 0})
    plan = planner.plan(explicit, CPU, 8192)
    assert (plan.prefix, plan.max_tokens, plan.context) == (3000, 40, 0)
    unmeasured = planner.plan(config(), EngineSpeed(), 8192)
    assert unmeasured.source == "fixed" and (unmeasured.prefix, unmeasured.max_tokens) == (1536, 64)
    off = planner.plan(config(completion={"adaptive_budgets": False}), CPU, 8192)
    assert off.source == "fixed" and off.context == FIXED.context


def test_budgets_larger_than_the_context_are_clamped_with_one_warning(caplog):
    planner = BudgetPlanner()
    big = config(completion={"prefix_tokens": 9000}, context={"budget_tokens": 5000})
    with caplog.at_level(logging.WARNING, logger="aicockpit.prompt.budget"):
        for _ in range(5):
            plan = planner.plan(big, CPU, 2048)
    assert total(plan) + plan.max_tokens <= 2048
    warnings = [r for r in caplog.records if "clamped" in r.getMessage()]
    assert len(warnings) == 1 and "prefix 9000" in warnings[0].getMessage()


def test_a_machine_slower_than_any_target_still_gets_a_prompt_and_a_deadline_to_answer_in():
    planner = BudgetPlanner()
    plan = planner.plan(config(), CRAWL, 8192)
    assert plan.prefix >= MIN_PREFIX_TOKENS
    deadline = planner.deadline_ms(config().completion, CRAWL, total(plan))
    assert deadline > CRAWL.predict_ms(total(plan), 16)  # late, but it answers
    assert planner.deadline_ms(config().completion, CRAWL, total(plan), invoked=True) == 2 * deadline
    assert planner.deadline_ms(config(completion={"timeout_ms": 700}).completion, CRAWL, 5000) == 700
    # Unmeasured: twice the cold target; on a fast machine: the cold target.
    assert planner.deadline_ms(config().completion, None, 1000) == 5000
    assert planner.deadline_ms(config().completion, GPU, 4000) == 2500


def test_a_model_without_fim_gets_repository_context_only_once_its_code_window_is_full():
    planner = BudgetPlanner()
    slow = planner.plan(config(), CPU, 8192, sends_suffix=False, fills_middle=False)
    assert slow.context == 0 and slow.prefix >= 700  # this CPU: the code before the cursor, all of it
    fim = planner.plan(config(), CPU, 8192, sends_suffix=True, fills_middle=True)
    assert fim.context > 0  # a FIM code model is trained with repository context
    fast = planner.plan(config(), GPU, 8192, sends_suffix=False, fills_middle=False)
    assert fast.context > 0 and fast.prefix > 1024


def test_budgets_hold_still_while_the_measured_speed_wobbles():
    """They decide where the prompt starts: moving with every estimate would defeat the prefix cache."""
    import dataclasses

    planner = BudgetPlanner()
    first = planner.plan(config(), CPU, 8192, sends_suffix=False, fills_middle=False)
    wobble = dataclasses.replace(CPU, prefill_tokens_per_s=CPU.prefill_tokens_per_s * 1.15)
    assert planner.plan(config(), wobble, 8192, sends_suffix=False, fills_middle=False) == first
    slower = dataclasses.replace(CPU, prefill_tokens_per_s=CPU.prefill_tokens_per_s * 0.5)
    assert planner.plan(config(), slower, 8192, sends_suffix=False, fills_middle=False).prefix < first.prefix
