"""aicockpit.switchProfile (workspace/executeCommand) and aicockpit/usage (custom request).

A switch points a role at another profile at run time, with work-done
progress; the router unloads an embedded model no role uses before loading the
new one, and answers the role's requests with "loading" meanwhile.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from pygls.exceptions import JsonRpcInvalidParams

from aicockpit.features.params import decode, decode_args
from aicockpit.features.progress import EngineProgress

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

SWITCH_PROFILE = "aicockpit.switchProfile"
USAGE = "aicockpit/usage"


NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class SwitchArgs(msgspec.Struct):
    role: NonEmpty
    profile: NonEmpty


class UsageArgs(msgspec.Struct):
    days: Annotated[int, msgspec.Meta(ge=1)] | None = None
    role: str | None = None


def switch_arguments(args: tuple[Any, ...]) -> SwitchArgs:
    """``[role, profile]`` or ``[{"role": ..., "profile": ...}]``."""
    if len(args) == 2:
        args = ({"role": args[0], "profile": args[1]},)
    try:
        return decode_args(args, SwitchArgs)
    except JsonRpcInvalidParams as err:
        raise JsonRpcInvalidParams(
            f"{err.message} ({SWITCH_PROFILE} takes [role, profile] or [{{role, profile}}])"
        ) from None


def setup(server: AicockpitServer, app: App) -> None:
    @server.command(SWITCH_PROFILE)
    async def switch_profile(*args: Any) -> dict[str, Any]:
        parsed = switch_arguments(args)
        role, profile = parsed.role, parsed.profile
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
        args = decode(params, UsageArgs)
        store = app.router.usage
        if store is None:
            return {"enabled": False, "path": None, "rows": [], "totals": []}
        return {"enabled": True, **(await store.report(days=args.days, role=args.role))}
