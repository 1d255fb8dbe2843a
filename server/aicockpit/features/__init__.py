"""One module per LSP feature; each exposes ``setup(server, app)``. Loaded in this order."""

from aicockpit.features import (
    completion,
    configuration,
    documents,
    inline_completion,
    lifecycle,
    logs,
    profiles,
    stats,
)

FEATURES = [logs, lifecycle, configuration, documents, inline_completion, completion, stats, profiles]
