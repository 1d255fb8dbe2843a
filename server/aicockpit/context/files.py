"""Workspace files as chat mentions and the CLI name them, with reasons for every refusal.

Every path a user names (a chat ``@mention``, a CLI argument) goes through
``Workspace.resolve``, the index's own check: paths that leave the workspace
(``..``, absolute paths, symlinks pointing out) are refused before anything is
opened, and files matching the configured secrets patterns are never read.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aicockpit.config import IndexConfig
from aicockpit.context.index import fuzzy_rank
from aicockpit.context.workspace import Workspace

MAX_FILES_SCANNED = 20_000


@dataclass(frozen=True)
class FileText:
    path: Path
    relative: str
    text: str


class WorkspaceFiles:
    """Files a user names, read under the configured policy (secrets, size limit) of the index."""

    def __init__(self, root: Path, settings: Callable[[], IndexConfig] = IndexConfig) -> None:
        self.root = Path(os.path.realpath(root))
        self._settings = settings  # read per call: the user may change the secrets list at any time

    def policy(self) -> Workspace:
        settings = self._settings()
        return Workspace(self.root, settings.exclude, settings.secrets, settings.max_file_bytes)

    def resolve(self, name: str) -> Path:
        """The file ``name`` (workspace-relative) names; ``RefusedPath`` says why not."""
        return self.policy().resolve(name)

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def read(self, name: str) -> FileText:
        policy = self.policy()
        path = policy.resolve(name)
        if not path.is_file():
            raise FileNotFoundError(f"{name} is not a file in the workspace")
        if path.stat().st_size > policy.max_file_bytes:
            raise ValueError(f"{name} is larger than {policy.max_file_bytes // 1000} kB; not read")
        data = path.read_bytes()
        if b"\x00" in data[:8192]:
            raise ValueError(f"{name} is a binary file; not read")
        return FileText(path, self.relative(path), data.decode("utf-8", errors="replace"))

    def files(self) -> Iterator[str]:
        """Workspace-relative paths the index would read: .gitignore and excludes honoured, no secrets."""
        return (walked.rel for walked in itertools.islice(self.policy().walk(), MAX_FILES_SCANNED))

    def find(self, query: str, limit: int = 20) -> list[str]:
        """Fuzzy path match, as the index ranks its own files."""
        return fuzzy_rank(query, self.files(), limit)
