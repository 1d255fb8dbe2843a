"""All workspace folders' indexes behind one query API (multi-root workspaces).

Paths shown to the model and to other features are workspace-relative; with
several folders they start with the folder's name. Documents outside every
folder are shown by file name, unless they are secrets.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aicockpit.config import IndexConfig
from aicockpit.context.index import ProjectIndex, fuzzy_rank
from aicockpit.context.store import database_path
from aicockpit.context.symbols import Definition
from aicockpit.context.workspace import IgnoreRules, PathOutsideWorkspace, Workspace

log = logging.getLogger(__name__)

MAX_CACHED_PATHS = 4096


class WorkspaceIndex:
    def __init__(self, config: IndexConfig | None = None) -> None:
        self.config = config or IndexConfig()
        self.folders: list[ProjectIndex] = []
        self.started = False  # a folder was added, or the server began indexing none: not ready before
        self._folder_of: dict[str, tuple[ProjectIndex, str] | None] = {}  # path -> folder_of (folders fixed)
        self._secrets = IgnoreRules(self.config.secrets)
        # Set by the server: re-read files later, in the file-event thread (watch.py); unset, at once.
        self.refresh_later: Callable[[Iterable[str]], None] | None = None

    def configure(self, config: IndexConfig) -> None:
        self.config = config
        self._secrets = IgnoreRules(config.secrets)

    def add_folder(self, root: str | Path, persist: bool = True) -> ProjectIndex:
        """Register a folder (not crawled yet: call ``build`` on the result, off the event loop).

        Its database is opened by ``build`` too: opening one creates and checkpoints files.
        """
        real = Path(os.path.realpath(root))
        for existing in self.folders:
            if existing.root == real:
                return existing
        config = self.config
        workspace = Workspace(real, config.exclude, config.secrets, config.max_file_bytes)
        store_path = database_path(config.cache_dir, real) if persist else None
        index = ProjectIndex(workspace, store_path, config.max_line_chars)
        self.folders.append(index)
        self.started = True
        self._folders_changed()
        return index

    def remove_folder(self, root: str | Path) -> list[ProjectIndex]:
        """Stop serving a folder; returns its indexes, for the caller to ``close`` off the event loop."""
        real = Path(os.path.realpath(root))
        removed = [f for f in self.folders if f.root == real]
        for index in removed:
            self.folders.remove(index)
        self._folders_changed()
        return removed

    def close_open(self, path: str | None) -> None:
        """The editor closed a document: re-read the file from disk (later, off the loop, when it can)."""
        found = self.folder_of(path)
        if found is None or not found[0].forget_open(found[1]):
            return
        index, rel = found
        if self.refresh_later is not None:
            self.refresh_later([str(index.root / rel)])
        else:
            index.refresh([index.root / rel])

    def refresh(self, paths: list[str]) -> None:
        """A coalesced batch of file events, routed to the folders they belong to."""
        by_folder: dict[int, tuple[ProjectIndex, list[str]]] = {}
        for path in paths:
            found = self.folder_of(path)
            if found is not None:
                by_folder.setdefault(id(found[0]), (found[0], []))[1].append(path)
        for index, batch in by_folder.values():
            index.ready.wait()  # the crawl first: it sees these files anyway
            stats = index.refresh(batch)
            log.debug("index %s: %d events -> %s", index.root, len(batch), stats)

    def status(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "started": self.started,
            "folders": [
                {
                    "root": str(index.root),
                    "ready": index.ready.is_set(),
                    "files": len(index.files),
                    "definitions": sum(len(index.definitions_in(rel)) for rel in list(index.files)),
                    "generation": index.generation,
                }
                for index in self.folders
            ],
        }

    def folder_of(self, path: str | Path | None) -> tuple[ProjectIndex, str] | None:
        if path is None:
            return None
        key, cache = str(path), self._folder_of
        if key in cache:
            return cache[key]
        found = None
        for index in sorted(self.folders, key=lambda f: -len(str(f.root))):
            rel = index.workspace.relative(path)
            if rel is not None:
                found = index, rel
                break
        # Asked several times for every keystroke's prompt, with the same few paths;
        # each answer is pathlib work (and realpath's syscalls for paths outside).
        # The file-event thread asks too: an answer computed while the folders
        # changed lands in the old cache, which nobody reads any more.
        if len(cache) > MAX_CACHED_PATHS:
            cache.clear()
        cache[key] = found
        return found

    def _folders_changed(self) -> None:
        self._folder_of = {}

    def _display(self, index: ProjectIndex, rel: str) -> str:
        return rel if len(self.folders) == 1 else f"{index.root.name}/{rel}"

    def display_path(self, path: str | None, uri: str = "") -> str | None:
        """How a document is named in prompts; None when it must never be sent (secrets, excluded)."""
        found = self.folder_of(path)
        if found is not None:
            index, rel = found
            if not index.workspace.allowed(rel):
                return None
            return self._display(index, rel)
        name = os.path.basename(path or uri.rstrip("/")) or "untitled"
        return None if self._secrets.decide(name, False) else name

    def is_secret(self, path: str | None, uri: str = "") -> bool:
        found = self.folder_of(path)
        if found is not None:
            return found[0].workspace.is_secret(found[1])
        return bool(self._secrets.decide(os.path.basename(path or uri.rstrip("/")), False))

    # -- the query API other features use -----------------------------------------------------

    def find_definitions(self, name: str) -> list[tuple[str, Definition]]:
        """(display path, definition) of every definition named ``name``."""
        return [
            (self._display(index, d.path), d) for index in self.folders for d in index.find_definitions(name)
        ]

    def list_files(self) -> list[str]:
        return [self._display(index, rel) for index in self.folders for rel in index.list_files()]

    def fuzzy_find(self, query: str, limit: int = 20) -> list[str]:
        return fuzzy_rank(query, self.list_files(), limit)

    def resolve_path(self, display: str) -> Path:
        """A display path back to a real file inside a workspace folder; refuses everything else."""
        if len(self.folders) == 1:
            return self.folders[0].resolve_path(display)
        head, _, rest = display.partition("/")
        for index in self.folders:
            if index.root.name == head:
                return index.resolve_path(rest)
        raise PathOutsideWorkspace(f"{display} is not in a workspace folder")

    def file_of(self, display: str) -> Path | None:
        """Where a display path lives on disk (without resolving symlinks: the index vetted it)."""
        if len(self.folders) == 1:
            return self.folders[0].root / display
        head, _, rest = display.partition("/")
        for index in self.folders:
            if index.root.name == head:
                return index.root / rest
        return None

    def imports_of(self, path: str | None) -> list[str]:
        found = self.folder_of(path)
        if found is None:
            return []
        index, rel = found
        return [self._display(index, target) for target in index.imports_of(rel)]

    @property
    def ready(self) -> bool:
        """Every folder crawled once; not before indexing started (no folders yet is not "done")."""
        return self.started and all(index.ready.is_set() for index in self.folders)

    def close(self) -> None:
        for index in self.folders:
            index.close()
        self.folders = []
        self._folders_changed()
