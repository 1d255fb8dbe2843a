"""The Prometheus exporter: the ``aicockpit/stats`` figures at ``http://127.0.0.1:PORT/metrics``.

Off unless ``aicockpit serve --metrics-port PORT`` is given, and bound to the
loopback interface only: the figures describe the user's code activity.
prometheus_client serves them (its HTTP server, in a daemon thread) from a
registry of our own, so that nothing but these figures is exposed; the figures
are read from the stats payload at each scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

log = logging.getLogger(__name__)

Stats = Callable[[], dict[str, Any]]

COUNTERS = (
    ("prompt_tokens", "Prompt tokens sent to the engine."),
    ("cached_tokens", "Prompt tokens served from the engine's prefix cache."),
    ("generated_tokens", "Tokens generated."),
    ("wasted_tokens", "Tokens generated for cancelled, superseded or timed-out work."),
    ("accepted", "Suggestions the editor reported accepted."),
    ("early_stops", "Generations stopped as soon as the suggestion's end was known."),
    ("early_stop_saved_tokens", "Tokens early stops spared the engine, at most (max_tokens left)."),
)
RATIOS = (
    ("prefix_cache_hit_ratio", "Cached prompt tokens over prompt tokens."),
    ("wasted_tokens_ratio", "Wasted tokens over generated tokens."),
    ("cache_hit_rate", "Completion requests answered from the typing-through cache."),
    ("reuse_rate", "Completion requests answered by attaching to an in-flight generation."),
)


def metric_families(stats: dict[str, Any]) -> Iterator[Metric]:
    """The stats payload as Prometheus metrics (counter names get ``_total`` from prometheus_client)."""
    outcomes = CounterMetricFamily(
        "aicockpit_completion_requests", "Completion requests by outcome.", labels=["outcome"]
    )
    for outcome, count in sorted(stats["outcomes"].items()):
        outcomes.add_metric([outcome], count)
    yield outcomes
    yield _quantiles(
        "stage_milliseconds",
        "Per-stage time since a completion request was received (recent requests).",
        "stage",
        stats["stages_ms"],
    )
    yield _quantiles(
        "wait_milliseconds",
        "Debounce and engine wait per answered completion request (recent requests).",
        "wait",
        stats["waits_ms"],
    )
    engine_requests = CounterMetricFamily(
        "aicockpit_engine_requests", "Engine generations started, by request kind.", labels=["kind"]
    )
    for kind, count in sorted(stats["engine_requests"].items()):
        engine_requests.add_metric([kind], count)
    yield engine_requests
    for name, help_text in COUNTERS:
        yield CounterMetricFamily(f"aicockpit_{name}", help_text, value=stats[name])
    for name, help_text in RATIOS:
        yield GaugeMetricFamily(f"aicockpit_{name}", help_text, value=stats[name])
    engine = stats.get("engine", {})
    state = str(engine.get("state", "unknown"))
    ready = GaugeMetricFamily("aicockpit_engine_ready", "1 when the engine is ready.", labels=["state"])
    ready.add_metric([state], 1 if state == "ready" else 0)
    yield ready
    yield GaugeMetricFamily(
        "aicockpit_engine_unfinished_requests",
        "Requests in the engine.",
        value=engine.get("unfinished_requests", 0),
    )


def _quantiles(name: str, help_text: str, label: str, table: dict[str, dict[str, float]]) -> Metric:
    """``{"answered": {"p95": 3.1}}`` -> ``aicockpit_NAME{LABEL="answered",quantile="0.95"} 3.1``."""
    family = GaugeMetricFamily(f"aicockpit_{name}", help_text, labels=[label, "quantile"])
    for key, by_quantile in table.items():
        for quantile, value in by_quantile.items():
            family.add_metric([key, str(int(quantile[1:]) / 100)], value)
    return family


class StatsCollector:
    """prometheus_client's collector protocol: the figures are read at each scrape."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._stats()
        except Exception:  # prometheus_client answers 500; the exporter goes on
            log.exception("metrics scrape failed")
            raise
        return metric_families(stats)


class MetricsExporter:
    """``GET /metrics`` on 127.0.0.1 only; a scrape that fails answers 500 and the next one is served."""

    def __init__(self, port: int, stats: Stats) -> None:
        # A registry of our own: prometheus_client's default one would add its process collectors.
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StatsCollector(stats))
        self.port = port
        self._server: WSGIServer | None = None

    def start(self) -> MetricsExporter:
        """Bind and serve (OSError when the port is taken)."""
        server, _thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self._server, self.port = server, server.server_port
        log.info("Prometheus metrics on http://127.0.0.1:%d/metrics", self.port)
        return self

    @property
    def address(self) -> str:
        # An IPv4 server's address is (host, port); typeshed allows the other families' bytes.
        return str(self._server.server_address[0]) if self._server is not None else ""

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
