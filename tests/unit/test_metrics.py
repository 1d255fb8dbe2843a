"""The Prometheus exporter: loopback only, the same figures as aicockpit/stats."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from aicockpit.telemetry import MetricsExporter, Telemetry, prometheus_text


def sample_stats() -> dict:
    telemetry = Telemetry()
    trace = telemetry.start("completion")
    trace.prompt_tokens, trace.cached_tokens, trace.generated_tokens = 100, 90, 8
    telemetry.finish(trace, "served")
    telemetry.finish(telemetry.start("completion"), "superseded")
    return {**telemetry.summary(), "engine": {"state": "ready", "unfinished_requests": 0}}


def test_text_format_has_the_stats_figures():
    text = prometheus_text(sample_stats())
    assert 'aicockpit_completion_requests_total{outcome="served"} 1.0' in text
    assert 'aicockpit_completion_requests_total{outcome="superseded"} 1.0' in text
    assert "aicockpit_prefix_cache_hit_ratio 0.9" in text
    assert 'aicockpit_stage_milliseconds{stage="answered",quantile="0.5"}' in text
    assert 'aicockpit_engine_ready{state="ready"} 1' in text
    for line in text.splitlines():
        assert line.startswith("# ") or line.startswith("aicockpit_"), line


def test_exporter_serves_metrics_on_loopback_only():
    exporter = MetricsExporter(0, sample_stats).start()
    try:
        assert exporter._httpd.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5) as response:
            body = response.read().decode()
            assert response.headers["Content-Type"].startswith("text/plain")
        assert "aicockpit_generated_tokens_total 8" in body
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/secrets", timeout=5)
        assert missing.value.code == 404
    finally:
        exporter.stop()


def test_a_failing_scrape_answers_500_and_the_exporter_goes_on():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return sample_stats()

    exporter = MetricsExporter(0, flaky).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5)
        assert failed.value.code == 500
        with urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5) as response:
            assert response.status == 200
    finally:
        exporter.stop()
