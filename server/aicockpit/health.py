"""One line per role that a status bar can show: is it answering, in time, and if not, what to change.

``aicockpit/stats`` reports ``roles.<role>.health`` as ``{state, message, fix,
since_s}``; a state is one of

- ``ok``: answering in time;
- ``loading``: the role's model is loading (or the role switches profile);
- ``unavailable``: nothing can serve it (the engine failed to start);
- ``unreachable``: a remote backend's circuit breaker is open (it failed or
  could not be reached several times in a row);
- ``failing``: requests fail (an embedded engine that stopped answering, or
  failures short of opening the breaker);
- ``slow``: completions come, but late: the recent time to first token is over
  the cold latency target, or most recent completions missed their deadline.

Each change of state is logged once (a warning into a bad state, an info line back
to ok), so the editor's log has one line per change, never a stream. States are
evaluated when stats are read and once a second (lifecycle), and recover by
themselves when answers come back.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aicockpit.config import ROLES, AicockpitConfig
from aicockpit.engine.base import EngineState
from aicockpit.engine.breaker import BreakerState
from aicockpit.engine.routing import Backend, Router
from aicockpit.telemetry import Telemetry

log = logging.getLogger(__name__)

SLOW_FACTOR = 1.2  # over the cold target by this much before a role is called slow
RECENT_S = 120.0  # completions looked at for missed deadlines
RECENT_COMPLETIONS = 12
MISSED_SHARE = 0.5  # of recent completions that reached the engine
FAILING_AFTER = 2  # consecutive failures, short of the breaker opening


@dataclass
class Health:
    state: str = "ok"
    message: str = ""
    fix: str = ""
    since: float = 0.0

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "state": self.state,
            "message": self.message,
            "fix": self.fix,
            "since_s": round(now - self.since, 1),
        }


class HealthMonitor:
    def __init__(
        self,
        router: Router,
        telemetry: Telemetry,
        settings: Callable[[], AicockpitConfig],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._router = router
        self._telemetry = telemetry
        self._settings = settings
        self._clock = clock
        self._health = {role: Health(since=clock()) for role in ROLES}

    def evaluate(self) -> dict[str, dict[str, Any]]:
        """Every role's health now; logs the roles whose state changed."""
        now = self._clock()
        out = {}
        for role in ROLES:
            state, message, fix = self._judge(role)
            current = self._health[role]
            if state != current.state:
                self._announce(role, current.state, state, message, fix)
                self._health[role] = current = Health(state, message, fix, now)
            else:
                current.message, current.fix = message, fix  # figures move within a state
            out[role] = current.as_dict(now)
        return out

    def _announce(self, role: str, old: str, new: str, message: str, fix: str) -> None:
        if new == "ok":
            if old not in ("loading", "ok"):
                log.info("%s: answering in time again", role)
        elif new in ("slow", "unreachable", "failing", "unavailable"):
            log.warning("%s: %s%s", role, message, f" ({fix})" if fix else "")

    def _judge(self, role: str) -> tuple[str, str, str]:
        router = self._router
        switching = router.switching_to(role)
        if switching:
            return "loading", f"switching to profile {switching}", ""
        backend = router.backend(router.profile_for(role))
        if backend is None:
            return "loading", "starting", ""
        status = backend.status()
        if backend.embedded:
            state = status["state"]
            if state in (EngineState.LOADING.value, EngineState.CRASHED.value, EngineState.STOPPED.value):
                return "loading", f"loading {backend.model}", ""
            if state == EngineState.FAILED.value:
                return "unavailable", f"engine failed: {status['error']}", "see the server log for the cause"
        elif status["state"] == "failed":
            return (
                "unavailable",
                f"profile {backend.name}: {status['error']}",
                f"check profiles.{backend.name}",
            )
        elif status["state"] == "loading":
            return "loading", f"connecting to {backend.name}", ""
        breaker = backend.breaker
        if breaker.state is not BreakerState.CLOSED:
            return self._broken(role, backend)
        if breaker.consecutive_failures >= FAILING_AFTER:
            return "failing", f"failing: {breaker.last_error}", "see the server log for the cause"
        if role == "completion":
            slow = self._slow(backend)
            if slow is not None:
                return slow
        return "ok", "", ""

    def _broken(self, role: str, backend: Backend) -> tuple[str, str, str]:
        other = f"point roles.{role}.profile at another profile, or add one to roles.{role}.fallback"
        if backend.embedded:
            return (
                "failing",
                f"engine not answering: {backend.breaker.last_error}",
                f"wait for it to recover (the server retries it), or {other}",
            )
        return (
            "unreachable",
            f"backend unreachable: {backend.name}",
            f"check that {backend.profile.url} is running and reachable, or {other}",
        )

    def _slow(self, backend: Backend) -> tuple[str, str, str] | None:
        config = self._settings()
        target = config.completion.latency_target_ms.cold
        speed = backend.speed.snapshot()
        first = speed.first_token_ms_p50
        missed = self._missed_share()
        slow_first = first if first is not None and first > target * SLOW_FACTOR else None
        if slow_first is None and missed < MISSED_SHARE:
            return None
        where = "on this machine" if backend.embedded else f"from {backend.name}"
        if slow_first is not None:  # what the user feels most; else the deadlines missed say it
            message = f"slow: {slow_first / 1000:.1f} s to first token {where}"
        else:
            message = f"slow: {missed:.0%} of recent completions missed their deadline"
        if not backend.embedded:
            fix = (
                f"the server at {backend.profile.url} is slow or busy: point roles.completion.profile"
                " at a faster profile, or raise completion.latency_target_ms.cold"
            )
            return "slow", message, fix
        explicit = [
            name
            for name, value in (
                ("completion.prefix_tokens", config.completion.prefix_tokens),
                ("context.budget_tokens", config.context.budget_tokens),
                ("completion.timeout_ms", config.completion.timeout_ms),
            )
            if value is not None
        ]
        if explicit:
            fix = f"unset {', '.join(explicit)} so budgets follow this machine's speed, or use a faster model"
        elif not config.completion.adaptive_budgets:
            fix = "turn completion.adaptive_budgets on so prompts are sized to this machine"
        else:
            fix = (
                "prompts are already sized to completion.latency_target_ms; a smaller model, a GPU,"
                " or a remote profile (roles.completion.profile) would answer faster"
            )
        return "slow", message, fix

    def _missed_share(self) -> float:
        """Of the recent completions that waited on the engine, the share that missed their deadline."""
        now = self._telemetry.now()
        horizon = now - RECENT_S
        recent = [
            trace.outcome
            for trace in self._telemetry.recent("completion", RECENT_COMPLETIONS)
            if trace.started >= horizon and trace.outcome in ("served", "empty", "timed_out", "reused")
        ]
        if len(recent) < 3:
            return 0.0
        return statistics.fmean(outcome == "timed_out" for outcome in recent)
