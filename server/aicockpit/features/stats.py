"""aicockpit/stats: request traces aggregated, and the engine's state."""

from __future__ import annotations

from typing import Any

from aicockpit.engine.base import EngineUnavailable

STATS = "aicockpit/stats"


def setup(server, app) -> None:
    @server.feature(STATS)
    async def stats(params: Any = None) -> dict[str, Any]:
        return {**app.telemetry.summary(), "engine": engine_status(app), **app.router.status()}


def engine_status(app) -> dict[str, Any]:
    host = app.host
    status: dict[str, Any] = {
        "state": host.state.value,
        "model": app.config.engine.model,
        "error": host.error,
    }
    try:
        status["unfinished_requests"] = host.engine.unfinished_requests()
    except EngineUnavailable:
        status["unfinished_requests"] = 0
    return status
