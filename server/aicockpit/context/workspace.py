"""A workspace folder on disk: what may be read, and the walk that finds it.

The one place that decides which files aicockpit may read on a user's behalf:
paths must stay inside the workspace (no ``..``, no absolute paths, no symlinks
that lead out), secrets files are never read, and .gitignore plus the configured
exclude list are honoured.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pathspec

log = logging.getLogger(__name__)

MAX_CACHED_VERDICTS = 100_000  # is_secret answers kept per workspace folder


class RefusedPath(ValueError):
    """A path aicockpit will not read on a user's behalf; the message says why."""


class PathOutsideWorkspace(RefusedPath):
    """A path that is absolute, climbs out with ``..``, or leads out through a symlink."""


class SecretPath(RefusedPath):
    """A path that names a secrets file (never read, never sent to a model)."""


@lru_cache(maxsize=256)
def _spec(lines: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    """gitignore lines compiled once (the same lists come back: the config's, each folder's file).

    A line git itself would reject (a lone ``!``, a trailing backslash) is left out
    with a note in the log: one bad line must not cost the others.
    """
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except ValueError:
        good = []
        for line in lines:
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
                good.append(line)
            except ValueError as err:
                log.info("ignore rules: skipped an invalid pattern: %s", err)
        return pathspec.GitIgnoreSpec.from_lines(good)


class IgnoreRules:
    """gitignore-style rules (pathspec's ``GitIgnoreSpec``): the last matching rule wins."""

    def __init__(self, patterns: list[str], base: str = "") -> None:
        self.base = base  # the folder the rules belong to, relative, "" for the root
        self.spec = _spec(tuple(patterns))

    def decide(self, rel: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included; None: no rule matched."""
        if self.base:
            if not rel.startswith(self.base + "/"):
                return None
            rel = rel[len(self.base) + 1 :]
        # A trailing slash is how pathspec tells a directory (``build/`` matches only those).
        return self.spec.check_file(rel + "/" if is_dir else rel).include


def ignored(rules: list[IgnoreRules], rel: str, is_dir: bool) -> bool:
    verdict = False
    for ruleset in rules:
        decision = ruleset.decide(rel, is_dir)
        if decision is not None:
            verdict = decision
    return verdict


@dataclass(frozen=True)
class WalkedFile:
    rel: str  # "/" separated, relative to the workspace root
    size: int
    mtime_ns: int


class Workspace:
    """One workspace folder and its reading policy."""

    def __init__(self, root: str | Path, exclude: list[str], secrets: list[str], max_file_bytes: int) -> None:
        self.root = Path(os.path.realpath(root))
        self.exclude = IgnoreRules(exclude)
        self.secrets = IgnoreRules(secrets)
        self.max_file_bytes = max_file_bytes
        self._secret: dict[str, bool] = {}

    def is_secret(self, rel: str) -> bool:
        # Asked for the open document at every keystroke: the rules are fixed, the answer kept.
        found = self._secret.get(rel)
        if found is None:
            if len(self._secret) > MAX_CACHED_VERDICTS:
                self._secret.clear()
            found = self._secret[rel] = bool(self.secrets.decide(rel, False))
        return found

    def relative(self, path: str | Path) -> str | None:
        """The workspace-relative path of an absolute path inside the root, else None."""
        try:
            rel = Path(os.path.abspath(path)).relative_to(self.root)
        except ValueError:
            try:
                rel = Path(os.path.realpath(path)).relative_to(self.root)
            except ValueError:
                return None
        text = rel.as_posix()
        return None if text == "." else text

    def resolve(self, rel: str) -> Path:
        """The real path of a workspace-relative path; refuses anything that leads out.

        Raises PathOutsideWorkspace for absolute paths, ``..`` that climbs out and
        symlinks whose target is outside the root; SecretPath for secrets files.
        """
        if not rel or "\0" in rel:
            raise PathOutsideWorkspace(f"{rel!r} is not a file name")
        if os.path.isabs(rel) or rel.startswith(("~", "\\")):
            raise PathOutsideWorkspace(f"{rel} is an absolute path; only paths inside the workspace are read")
        candidate = Path(os.path.realpath(self.root / rel))
        try:
            inside = candidate.relative_to(self.root).as_posix()
        except ValueError:
            way = "('..')" if ".." in Path(rel).parts else "through a symlink"
            raise PathOutsideWorkspace(f"{rel} leaves the workspace {way}; nothing was read") from None
        if self.is_secret(inside) or self.is_secret(os.path.normpath(rel).replace(os.sep, "/")):
            raise SecretPath(f"{rel} is a secrets file; it is never read or sent to a model")
        return candidate

    def allowed(self, rel: str, is_dir: bool = False) -> bool:
        """Not excluded by config and not a secret (gitignore is checked by the walk)."""
        # gitignore semantics: a rule that matches a folder matches everything in it.
        return not self.exclude.decide(rel, is_dir) and (is_dir or not self.is_secret(rel))

    def gitignored(self, rel: str) -> bool:
        """Whether the .gitignore files on the way to ``rel`` ignore it (for single file events)."""
        parts = rel.split("/")
        rules = []
        for depth in range(len(parts)):
            base = "/".join(parts[:depth])
            try:
                text = (self.root / base / ".gitignore").read_text("utf-8", "replace")
            except OSError:
                continue
            rules.append(IgnoreRules(text.split("\n"), base))
        return ignored(rules, rel, False)  # a rule that matches a folder on the way matches ``rel`` too

    def walk(self) -> Iterator[WalkedFile]:
        """Every file that may be indexed. Unreadable folders and symlinked folders are skipped."""
        stack: list[tuple[str, list[IgnoreRules]]] = [("", [self.exclude])]
        while stack:
            rel_dir, rules = stack.pop()
            folder = self.root / rel_dir if rel_dir else self.root
            gitignore = folder / ".gitignore"
            try:
                with open(gitignore, encoding="utf-8", errors="replace") as handle:
                    rules = rules + [IgnoreRules(handle.read().split("\n"), rel_dir)]
            except OSError:
                pass
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as err:
                log.info("index: cannot read folder %s: %s", folder, err)
                continue
            subdirs = []
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                try:
                    if entry.is_symlink():
                        found = self._symlinked_file(entry, rel)
                        if found is not None and not ignored(rules, rel, False):
                            yield found
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != ".git" and not ignored(rules, rel, True):
                            subdirs.append((rel, rules))
                        continue
                    if not entry.is_file(follow_symlinks=False) or ignored(rules, rel, False):
                        continue
                    if self.is_secret(rel):
                        continue  # never indexed, never listed
                    info = entry.stat(follow_symlinks=False)
                except OSError as err:
                    log.info("index: skipped %s: %s", rel, err)
                    continue
                if info.st_size > self.max_file_bytes:
                    log.debug("index: skipped %s: %d bytes is over the size limit", rel, info.st_size)
                    continue
                yield WalkedFile(rel, info.st_size, info.st_mtime_ns)
            stack.extend(reversed(subdirs))

    def _symlinked_file(self, entry: os.DirEntry[str], rel: str) -> WalkedFile | None:
        """A symlink is followed only to a regular file inside the workspace."""
        try:
            target = Path(os.path.realpath(entry.path))
            target.relative_to(self.root)
            info = os.stat(entry.path)
        except (OSError, ValueError, RuntimeError) as err:
            log.info("index: skipped symlink %s: %s", rel, err or "leads outside the workspace")
            return None
        if not stat.S_ISREG(info.st_mode):
            log.debug("index: skipped symlink %s: not a regular file", rel)
            return None
        if self.is_secret(rel) or self.is_secret(target.relative_to(self.root).as_posix()):
            return None
        if info.st_size > self.max_file_bytes:
            return None
        return WalkedFile(rel, info.st_size, info.st_mtime_ns)
