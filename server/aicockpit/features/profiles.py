"""aicockpit.switchProfile (workspace/executeCommand) and aicockpit/usage (custom request).

A switch points a role at another profile at run time, with work-done
progress; the router unloads an embedded model no role uses before loading the
new one, and answers the role's requests with "loading" meanwhile.
"""

from __future__ import annotations

import logging
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from aicockpit.features.progress import EngineProgress

log = logging.getLogger(__name__)

SWITCH_PROFILE = "aicockpit.switchProfile"
USAGE = "aicockpit/usage"


def plain_params(value: Any) -> Any:
    """Params of custom requests arrive as named tuples: make them dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain_params(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain_params(v) for v in value]
    return value


def switch_arguments(args: tuple[Any, ...]) -> tuple[str, str]:
    """``[role, profile]`` or ``[{"role": ..., "profile": ...}]``."""
    if len(args) == 1:
        one = plain_params(args[0])
        if isinstance(one, dict):
            args = (one.get("role"), one.get("profile"))
    if len(args) != 2 or not all(isinstance(a, str) and a for a in args):
        raise JsonRpcInvalidParams(f"{SWITCH_PROFILE} takes [role, profile] or [{{role, profile}}]")
    return args[0], args[1]


def setup(server, app) -> None:
    @server.command(SWITCH_PROFILE)
    async def switch_profile(*args: Any) -> dict[str, Any]:
        role, profile = switch_arguments(args)
        progress = EngineProgress(server)
        await progress.begin(f"switching {role} to {profile}")
        if role == "completion":
            app.scheduler.reset()
        try:
            result = await app.router.switch_profile(role, profile, progress.report)
        except ValueError as err:
            progress.end(str(err))
            raise JsonRpcInvalidParams(str(err)) from None
        except Exception as err:
            log.exception("switching %s to %s failed", role, profile)
            progress.end(f"switch failed: {err}")
            return {"role": role, "profile": profile, "state": "failed", "error": str(err)}
        progress.end(f"{role}: {profile} {result['state']}")
        log.info("%s now served by profile %s (%s)", role, profile, result["state"])
        return result

    @server.feature(USAGE)
    async def usage(params: Any = None) -> dict[str, Any]:
        params = plain_params(params)
        params = params if isinstance(params, dict) else {}
        days, role = params.get("days"), params.get("role")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
            raise JsonRpcInvalidParams("days must be a positive integer")
        if role is not None and not isinstance(role, str):
            raise JsonRpcInvalidParams("role must be a string")
        store = app.router.usage
        if store is None:
            return {"enabled": False, "path": None, "rows": [], "totals": []}
        return {"enabled": True, **store.report(days=days, role=role)}
