"""One module per LSP feature; each exposes ``setup(server, app)``. Loaded in this order."""

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

FEATURES = [
    logs,
    lifecycle,
    configuration,
    documents,
    index,
    inline_completion,
    completion,
    next_edit,
    copilot_inline_edit,
    edit,
    code_actions,
    chat,
    profiles,
    stats,
]
