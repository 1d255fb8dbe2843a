"""One module per LSP feature; each exposes ``setup(server, app)``. Loaded in this order."""

from aicockpit.features import (
    completion,
    configuration,
    documents,
    index,
    inline_completion,
    lifecycle,
    logs,
    stats,
)

FEATURES = [logs, lifecycle, configuration, documents, index, inline_completion, completion, stats]
