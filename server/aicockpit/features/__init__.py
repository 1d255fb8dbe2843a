"""One module per LSP feature; each exposes ``setup(server, app)``. Loaded in this order."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aicockpit.features import (
    chat,
    code_actions,
    completion,
    configuration,
    copilot_inline_edit,
    documents,
    edit,
    index,
    inline_completion,
    lifecycle,
    logs,
    next_edit,
    profiles,
    stats,
)

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

# Registers a feature's handlers on the server, over the shared application state.
FeatureSetup = Callable[["AicockpitServer", "App"], None]

FEATURES: list[FeatureSetup] = [
    logs.setup,
    lifecycle.setup,
    configuration.setup,
    documents.setup,
    index.setup,
    inline_completion.setup,
    completion.setup,
    next_edit.setup,
    copilot_inline_edit.setup,
    edit.setup,
    code_actions.setup,
    chat.setup,
    profiles.setup,
    stats.setup,
]
