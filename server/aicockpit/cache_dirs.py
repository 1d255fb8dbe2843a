"""Where aicockpit keeps its data (index, chat sessions, usage): one root, outside every workspace."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    """``AICOCKPIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/aicockpit``, else ``~/.cache/aicockpit``."""
    if os.environ.get("AICOCKPIT_CACHE_DIR"):
        return Path(os.environ["AICOCKPIT_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aicockpit"


def workspace_cache_dir(root: Path | None, configured: str | None = None) -> Path:
    """A workspace folder's own cache folder (its chat sessions, its index), outside it so the user's
    tree stays clean; ``no-workspace`` when none is open. The one place a workspace is named on disk."""
    base = Path(configured).expanduser() if configured else cache_root()
    if root is None:
        return base / "no-workspace"
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return base / f"{root.name or 'root'}-{digest}"
