"""The workspace on disk, as far as aicockpit may read it on a user's behalf.

Every path a user names (a chat ``@mention``, a CLI argument) goes through
``Workspace.resolve``: paths that leave the workspace (``..``, absolute paths,
symlinks pointing out) are refused before anything is opened, and secrets
files are never read.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SECRET_PATTERNS = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", "id_ecdsa*",
    "*.keystore", "credentials", "credentials.*", ".netrc", ".npmrc", ".pypirc", "*.kdbx",
)  # fmt: skip
SKIPPED_DIRS = {
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".cache", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", "dist", "build", "target", ".tox", ".idea", ".vscode-test",
}  # fmt: skip
MAX_FILE_BYTES = 1_000_000
MAX_FILES_SCANNED = 20_000


class OutsideWorkspace(ValueError):
    """A path that resolves outside the workspace, or to a secrets file."""


def is_secret(path: Path | str) -> bool:
    name = PurePosixPath(str(path)).name
    return any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_PATTERNS)


def cache_dir_for(root: Path, configured: str | None = None) -> Path:
    """Per-workspace cache folder, outside the workspace so the user's tree stays clean."""
    base = Path(configured).expanduser() if configured else _user_cache() / "aicockpit"
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return base / f"{root.name or 'root'}-{digest}"


def no_workspace_dir(configured: str | None = None) -> Path:
    """Where data goes when the editor opened no folder."""
    return (Path(configured).expanduser() if configured else _user_cache() / "aicockpit") / "no-workspace"


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@dataclass(frozen=True)
class FileText:
    path: Path
    relative: str
    text: str


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, name: str) -> Path:
        """The file ``name`` (workspace-relative) names, or ``OutsideWorkspace``."""
        if not name or "\x00" in name:
            raise OutsideWorkspace(f"{name!r} is not a file name")
        candidate = Path(name)
        if candidate.is_absolute() or candidate.drive:
            raise OutsideWorkspace(f"{name} is an absolute path; only paths inside the workspace are read")
        if ".." in candidate.parts:
            raise OutsideWorkspace(f"{name} leaves the workspace ('..'); nothing was read")
        resolved = (self.root / candidate).resolve()
        if not resolved.is_relative_to(self.root):
            raise OutsideWorkspace(f"{name} points outside the workspace (symlink); nothing was read")
        if is_secret(resolved) or is_secret(candidate):
            raise OutsideWorkspace(f"{name} is a secrets file; it is never read or sent to a model")
        return resolved

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def read(self, name: str) -> FileText:
        path = self.resolve(name)
        if not path.is_file():
            raise FileNotFoundError(f"{name} is not a file in the workspace")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"{name} is larger than {MAX_FILE_BYTES // 1000} kB; not read")
        data = path.read_bytes()
        if b"\x00" in data[:8192]:
            raise ValueError(f"{name} is a binary file; not read")
        return FileText(path, self.relative(path), data.decode("utf-8", errors="replace"))

    def files(self) -> Iterator[str]:
        """Workspace-relative paths of readable text candidates (no secrets, no vendored dirs)."""
        seen = 0
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
            for filename in sorted(filenames):
                if is_secret(filename):
                    continue
                path = Path(dirpath) / filename
                if path.is_symlink() and not path.resolve().is_relative_to(self.root):
                    continue
                seen += 1
                if seen > MAX_FILES_SCANNED:
                    return
                yield path.relative_to(self.root).as_posix()

    def find(self, query: str, limit: int = 20) -> list[str]:
        """Fuzzy path match: exact path first, then by file name, then subsequence."""
        query = query.strip().lstrip("./")
        if not query:
            return []
        scored: list[tuple[int, int, str]] = []
        pattern = re.compile(".*?".join(map(re.escape, query.lower())))
        for relative in self.files():
            lowered = relative.lower()
            if relative == query:
                score = 0
            elif lowered.endswith("/" + query.lower()) or PurePosixPath(lowered).name == query.lower():
                score = 1
            elif query.lower() in lowered:
                score = 2
            elif pattern.search(lowered):
                score = 3
            else:
                continue
            scored.append((score, len(relative), relative))
        return [relative for _, _, relative in sorted(scored)[:limit]]
