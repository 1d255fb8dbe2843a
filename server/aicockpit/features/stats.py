"""aicockpit/stats: request traces aggregated, and the engine's state.

aicockpit/prompts: the last prompts sent to the models (with ``logging.prompts``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from aicockpit.engine.base import EngineState, EngineUnavailable
from aicockpit.engine.routing import speed_status
from aicockpit.features.params import decode

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

STATS = "aicockpit/stats"
PROMPTS = "aicockpit/prompts"
# Settings that a `serve` flag overrides (flags win over the editor's settings).
FLAGS = {
    "engine.model": "--model",
    "engine.enforce_eager": "--enforce-eager",
    "engine.max_model_len": "--max-model-len",
}


class StatsArgs(msgspec.Struct):
    traces_since: int | None = None  # also return each kept request trace whose id is above this
    event_loop_histogram: bool = False  # also the loop-lag histogram (two subtract: loop_lag.py)


def setup(server: AicockpitServer, app: App) -> None:
    @server.feature(STATS)
    async def stats(params: Any = None) -> dict[str, Any]:
        """Aggregates; with ``{"traces_since": N}`` also every kept trace whose id is above N."""
        args = decode(params, StatsArgs)
        result = stats_payload(app)
        if args.traces_since is not None:
            result["traces"] = app.telemetry.traces(args.traces_since)
        if args.event_loop_histogram:
            result["event_loop"]["histogram"] = app.telemetry.loop_lag.snapshot()
        return result

    @server.feature(PROMPTS)
    async def prompts(params: Any = None) -> dict[str, Any]:
        """Oldest first; empty unless ``logging.prompts`` is on."""
        return {"enabled": app.telemetry.prompts.enabled, "prompts": app.telemetry.prompts.entries()}


def stats_payload(app: App) -> dict[str, Any]:
    """What ``aicockpit/stats`` and the Prometheus exporter report."""
    payload = {
        **app.telemetry.summary(),
        "engine": engine_status(app),
        "next_edit": app.telemetry.next_edit.summary(),
        "prewarm": app.prewarmer.status(),
        "event_loop": app.telemetry.loop_lag.summary(),
        **app.router.status(),
    }
    for role, health in app.health.evaluate().items():
        payload["roles"][role].update(health=health, **role_budget_and_speed(app, role))
    return payload


def role_budget_and_speed(app: App, role: str) -> dict[str, Any]:
    """The budgets the role's next prompt gets (completion), and its backend's measured speed."""
    backend = app.router.backend(app.router.profile_for(role))
    speed = speed_status(backend.speed.snapshot()) if backend is not None else None
    budget = None
    if role == "completion":
        try:
            budget = app.assembler.budgets_for(app.router.for_role(role)).describe(app.config.completion)
        except EngineUnavailable:
            pass
    return {"budget": budget, "speed": speed}


def engine_fix(app: App) -> dict[str, str]:
    """Where the user fixes the engine's failure: ``{"setting": "engine.model"}``, or the
    ``serve`` flag that overrides that setting (``{"flag": "--model"}``); empty when unknown."""
    setting = app.host.error_setting
    if setting is None:
        return {}
    section, _, field = setting.partition(".")
    overridden = isinstance(app.overrides.get(section), dict) and field in app.overrides[section]
    if overridden and setting in FLAGS:
        return {"flag": FLAGS[setting]}
    return {"setting": setting}


def engine_status(app: App) -> dict[str, Any]:
    host = app.host
    breakers = [backend.breaker.status()["breaker"] for backend in app.router.backends_on(host)]
    status: dict[str, Any] = {
        "state": host.state.value,
        "message": host.message,
        "model": app.config.engine.model,
        "error": host.error,
        "fix": engine_fix(app),
        # One clock for every display of "loading N s": the server's.
        "state_seconds": round(time.monotonic() - host.since, 1),
        "warmup": app.scheduler.warmup,
        # Serving, answering, and no profile it serves has its breaker open.
        "healthy": host.state is EngineState.READY and not host.unresponsive and "open" not in breakers,
        "unresponsive": host.unresponsive,
        "breaker": breakers[0] if breakers else None,
        "restarts": host.restarts,
        "last_crash": host.last_crash,
    }
    try:
        status["unfinished_requests"] = host.engine.unfinished_requests()
    except EngineUnavailable:
        status["unfinished_requests"] = 0
    return status
