"""One module per LSP feature; each exposes ``setup(server, app)``. Loaded in this order."""

from aicockpit.features import (
    chat,
    code_actions,
    completion,
    configuration,
    documents,
    edit,
    inline_completion,
    lifecycle,
    logs,
    profiles,
    stats,
)

FEATURES = [
    logs,
    lifecycle,
    configuration,
    documents,
    inline_completion,
    completion,
    edit,
    code_actions,
    chat,
    profiles,
    stats,
]
