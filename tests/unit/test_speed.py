"""The speed meter: estimates from a backend's own requests, robust to the odd slow one."""

from aicockpit.engine.speed import SpeedMeter, SpeedSample


def sample(prompt, cached, first_s, decode_s=0.3, generated=11, busy=False):
    return SpeedSample(prompt, cached, first_s, decode_s, generated, busy)


def test_prefill_decode_and_fixed_cost_from_a_cold_and_a_cached_request():
    meter = SpeedMeter()
    assert not meter.snapshot().measured
    meter.observe(sample(1000, 0, first_s=2.05))  # cold: 1000 tokens to prefill
    meter.observe(sample(1000, 992, first_s=0.05))  # cached: the fixed cost alone
    speed = meter.snapshot()
    assert speed.measured and speed.samples == 2
    assert speed.decode_ms_per_token == 30.0  # 0.3 s for 10 tokens after the first
    assert speed.base_ms == 50.0
    assert speed.prefill_tokens_per_s == 500.0  # (2.05 - 0.05) s for 1000 tokens
    assert speed.predict_ms(1000, 16) == 50 + 2000 + 15 * 30


def test_one_request_that_waited_behind_another_moves_nothing():
    meter = SpeedMeter()
    for _ in range(3):
        meter.observe(sample(600, 0, first_s=1.23))
    meter.observe(sample(600, 576, first_s=0.03))
    before = meter.snapshot()
    meter.observe(sample(600, 0, first_s=9.0, busy=True))  # a chat answer was generating meanwhile
    meter.observe(sample(600, 0, first_s=8.0))  # one hiccup of a shared machine
    after = meter.snapshot()
    assert after.prefill_tokens_per_s == before.prefill_tokens_per_s
    assert after.first_token_ms_p50 == 1230.0


def test_short_prefills_that_are_mostly_fixed_cost_do_not_make_the_machine_look_fast():
    # As measured here with SmolLM2 and pre-warming (2026-12-07): a cached request over a long
    # prompt costs ~0.2 s, pre-warm chunks of ~150 tokens ~0.27 s, cold prompts ~600 tokens/s.
    meter = SpeedMeter()
    for _ in range(5):
        meter.observe(sample(2000, 1984, first_s=0.2))
    for i in range(10):
        meter.observe(sample(150 * (i + 1), 150 * i, first_s=0.27))
    assert meter.snapshot().prefill_tokens_per_s <= 600  # no cold prompt yet: the safe side
    for _ in range(3):
        meter.observe(sample(1500, 0, first_s=2.7))
    assert meter.snapshot().prefill_tokens_per_s == 600.0  # (2.7 - 0.2) s for 1500 tokens


def test_without_a_cached_request_the_fixed_cost_is_one_decode_step():
    meter = SpeedMeter()
    meter.observe(sample(400, 0, first_s=1.02, decode_s=0.2, generated=11))
    speed = meter.snapshot()
    assert speed.base_ms is None and speed.decode_ms_per_token == 20.0
    assert speed.prefill_tokens_per_s == 400.0  # (1.02 - 0.02) s for 400 tokens


def test_reset_forgets_another_engines_figures():
    meter = SpeedMeter()
    meter.observe(sample(1000, 0, first_s=2.0))
    meter.reset()
    assert not meter.snapshot().measured and meter.snapshot().samples == 0
