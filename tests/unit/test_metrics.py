"""The Prometheus exporter, scraped over HTTP: loopback only, the same figures as aicockpit/stats."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aicockpit.metrics import MetricsExporter
from aicockpit.telemetry import Telemetry


def sample_stats() -> dict:
    telemetry = Telemetry()
    trace = telemetry.start("completion")
    trace.prompt_tokens, trace.cached_tokens, trace.generated_tokens = 100, 90, 8
    telemetry.finish(trace, "served")
    telemetry.finish(telemetry.start("completion"), "superseded")
    return {**telemetry.summary(), "engine": {"state": "ready", "unfinished_requests": 0}}


def scrape(exporter: MetricsExporter, path: str = "/metrics") -> tuple[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}{path}", timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


@pytest.fixture
def exporter():
    exporter = MetricsExporter(0, sample_stats).start()
    yield exporter
    exporter.stop()


def test_a_scrape_has_the_stats_figures_under_their_names(exporter):
    kind, text = scrape(exporter)
    assert kind.startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("aicockpit_completion_requests_total", (("outcome", "served"),))] == 1
    assert samples[("aicockpit_completion_requests_total", (("outcome", "superseded"),))] == 1
    assert samples[("aicockpit_generated_tokens_total", ())] == 8
    assert samples[("aicockpit_prefix_cache_hit_ratio", ())] == 0.9
    assert ("aicockpit_stage_milliseconds", (("quantile", "0.5"), ("stage", "answered"))) in samples
    assert samples[("aicockpit_engine_ready", (("state", "ready"),))] == 1
    # Our figures only: no process or Python collectors of prometheus_client's default registry.
    assert {name for name, _ in samples} == {name for name, _ in samples if name.startswith("aicockpit_")}


def test_the_exporter_listens_on_loopback_only(exporter):
    assert exporter.address == "127.0.0.1"
    assert "aicockpit_accepted_total" in scrape(exporter)[1]


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
            scrape(exporter)
        assert failed.value.code == 500
        assert "aicockpit_accepted_total" in scrape(exporter)[1]
    finally:
        exporter.stop()


def test_a_taken_port_is_an_error_at_start():
    first = MetricsExporter(0, sample_stats).start()
    try:
        with pytest.raises(OSError):
            MetricsExporter(first.port, sample_stats).start()
    finally:
        first.stop()
