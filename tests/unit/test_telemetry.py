from aicockpit.telemetry import Telemetry, percentile


def test_percentiles():
    values = list(range(1, 101))
    assert percentile(values, 50) in (50, 51)
    assert percentile(values, 99) == 99
    assert percentile([], 50) == 0.0


def test_summary_counts_cache_hits_and_waste():
    telemetry = Telemetry()
    served = telemetry.start("completion")
    served.prompt_tokens, served.cached_tokens, served.generated_tokens = 100, 96, 10
    telemetry.finish(served, "served")
    cancelled = telemetry.start("completion")
    cancelled.prompt_tokens, cancelled.generated_tokens = 100, 30
    telemetry.finish(cancelled, "cancelled")
    summary = telemetry.summary()
    assert summary["prefix_cache_hit_ratio"] == 0.48
    assert summary["wasted_tokens"] == 30 and summary["wasted_tokens_ratio"] == 0.75
    assert summary["outcomes"] == {"served": 1, "cancelled": 1}
    assert "answered" in summary["stages_ms"]


def test_the_last_completion_outlives_the_requests_after_it():
    telemetry = Telemetry()
    telemetry.finish(telemetry.start("completion", tag="ghost"), "served")
    telemetry.finish(telemetry.start("next_edit"), "served")
    summary = telemetry.summary()
    assert summary["last_request"]["kind"] == "next_edit"
    assert summary["last_completion"]["kind"] == "completion"
    assert summary["last_completion"]["tag"] == "ghost"
