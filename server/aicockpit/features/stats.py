"""aicockpit/stats: request traces aggregated, and the engine's state.

aicockpit/prompts: the last prompts sent to the models (with ``logging.prompts``).
"""

from __future__ import annotations

from typing import Any

from aicockpit.engine.base import EngineUnavailable

STATS = "aicockpit/stats"
PROMPTS = "aicockpit/prompts"


def setup(server, app) -> None:
    @server.feature(STATS)
    async def stats(params: Any = None) -> dict[str, Any]:
        """Aggregates; with ``{"traces_since": N}`` also every kept trace whose id is above N."""
        result = stats_payload(app)
        since = _traces_since(params)
        if since is not None:
            result["traces"] = app.telemetry.traces(since)
        return result

    @server.feature(PROMPTS)
    async def prompts(params: Any = None) -> dict[str, Any]:
        """Oldest first; empty unless ``logging.prompts`` is on."""
        return {"enabled": app.telemetry.prompts.enabled, "prompts": app.telemetry.prompts.entries()}


def stats_payload(app) -> dict[str, Any]:
    """What ``aicockpit/stats`` and the Prometheus exporter report."""
    return {
        **app.telemetry.summary(),
        "engine": engine_status(app),
        "next_edit": app.next_edits.stats(),
        **app.router.status(),
    }


def _traces_since(params: Any) -> int | None:
    params = params._asdict() if hasattr(params, "_asdict") else params
    if not isinstance(params, dict):
        return None
    since = params.get("traces_since")
    return since if isinstance(since, int) and not isinstance(since, bool) else None


def engine_status(app) -> dict[str, Any]:
    host = app.host
    status: dict[str, Any] = {
        "state": host.state.value,
        "model": app.config.engine.model,
        "error": host.error,
        "warmup": app.scheduler.warmup,
    }
    try:
        status["unfinished_requests"] = host.engine.unfinished_requests()
    except EngineUnavailable:
        status["unfinished_requests"] = 0
    return status
