"""workspace/didChangeConfiguration: re-decode the config; restart the engine if its settings changed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from aicockpit.background import spawn
from aicockpit.config import AicockpitConfig
from aicockpit.features.lifecycle import show_error

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)
SECTION = "aicockpit"


def section(settings: Any) -> Any:
    """Clients send either the whole settings object or just our section."""
    if isinstance(settings, dict) and isinstance(settings.get(SECTION), dict):
        return settings[SECTION]
    return settings


def setup(server: AicockpitServer, app: App) -> None:
    def on_engines(_previous: object, _current: object) -> None:
        # The router unloads engines no role uses any more and loads new ones.
        if app.router.started:
            log.info("engine, profile or role settings changed: updating the engines")
            spawn(app.router.apply(app.config), name="updating the engines")

    app.subscribe(("engine", "profiles", "roles"), on_engines)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if settings is None:  # pull model: ask the client for our section
            try:
                result = await server.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
                )
                settings = result[0] if result else None
            except Exception as err:
                log.warning("workspace/configuration failed: %s", err)
                return
        # A settings change restates the whole section, so decode over the defaults.
        for problem in app.configure(section(settings) or {}, base=AicockpitConfig()):
            show_error(server, f"aicockpit: invalid option ({problem}); using the default")
