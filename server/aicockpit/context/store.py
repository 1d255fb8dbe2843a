"""The project index on disk: one SQLite file per workspace folder, in the folder's cache folder.

A restart loads it and re-reads only the files whose size or mtime changed (and
re-parses only those whose content hash changed). A cache from another schema
version is dropped and rebuilt.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from aicockpit.cache_dirs import workspace_cache_dir
from aicockpit.context.symbols import Definition
from aicockpit.database_thread import DatabaseThread

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, hash TEXT, language TEXT);
CREATE TABLE IF NOT EXISTS definitions(
    path TEXT, name TEXT, kind TEXT, signature TEXT, doc TEXT,
    start_line INTEGER, end_line INTEGER, excerpt TEXT);
CREATE INDEX IF NOT EXISTS definitions_path ON definitions(path);
CREATE TABLE IF NOT EXISTS imports(path TEXT, text TEXT);
CREATE INDEX IF NOT EXISTS imports_path ON imports(path);
"""

Loaded = tuple[dict[str, "FileRecord"], dict[str, list[Definition]], dict[str, list[str]]]


@dataclass(frozen=True, slots=True)
class FileRecord:
    size: int
    mtime_ns: int
    hash: str  # "" for files listed but not read (no grammar)
    language: str | None


# One file's new entry: (rel, its stat and hash, definitions, imports); None symbols when only
# its stat changed (same hash).
Upsert = tuple[str, FileRecord, list[Definition] | None, list[str] | None]


def database_path(cache_dir: str | None, root: Path) -> Path:
    """``index.sqlite`` in the workspace folder's cache folder (cache_dirs.py), beside its chat sessions."""
    return workspace_cache_dir(root, cache_dir) / "index.sqlite"


def _move_legacy_cache(path: Path) -> None:
    """Index caches used to be ``<cache>/index/<folder>.sqlite``: such a one moves here once, still usable."""
    legacy = path.parent.parent / "index" / f"{path.parent.name}.sqlite"
    if path.exists() or not legacy.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):  # the log too, should the last session have ended without one
            if os.path.exists(f"{legacy}{suffix}"):
                os.replace(f"{legacy}{suffix}", f"{path}{suffix}")
    except OSError as err:
        log.info("index cache %s not moved (%s): the folder is indexed anew", legacy, err)


class IndexStore:
    """Used from the crawl's and the file watcher's threads: every call runs in the database's own
    thread (database_thread.py), one after another, and the caller waits for it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _move_legacy_cache(path)
        self._db = DatabaseThread("index", self._connect)
        try:
            self._db.call(lambda db: None)  # opened now: a cache folder that cannot be written fails here
        except BaseException:
            self._db.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = _meta(db, "schema")
        if version != SCHEMA_VERSION:
            if version is not None:
                log.info("index cache %s has schema %s: rebuilding", self.path, version)
            db.executescript(
                "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS definitions; DROP TABLE IF EXISTS imports;"
            )
        db.executescript(SCHEMA)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        return db

    def load(self) -> Loaded:
        return self._db.call(_load)

    def write(self, upserts: list[Upsert], deletes: list[str]) -> None:
        """One transaction. ``None`` symbols: only the file's stat changed (same hash)."""
        if upserts or deletes:
            self._db.call(lambda db: _write(db, upserts, deletes))

    def close(self) -> None:
        self._db.close(wait=True)


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def _load(db: sqlite3.Connection) -> Loaded:
    files = {
        row[0]: FileRecord(row[1], row[2], row[3], row[4])
        for row in db.execute("SELECT path, size, mtime_ns, hash, language FROM files")
    }
    definitions: dict[str, list[Definition]] = {}
    for row in db.execute(
        "SELECT path, name, kind, signature, doc, start_line, end_line, excerpt FROM definitions"
        " ORDER BY rowid"
    ):
        definitions.setdefault(row[0], []).append(Definition(*row))
    imports: dict[str, list[str]] = {}
    for path, text in db.execute("SELECT path, text FROM imports ORDER BY rowid"):
        imports.setdefault(path, []).append(text)
    return files, definitions, imports


def _write(
    db: sqlite3.Connection,
    upserts: list[Upsert],
    deletes: list[str],
) -> None:
    db.execute("BEGIN")
    try:
        for path in deletes:
            for table in ("files", "definitions", "imports"):
                db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))
        db.executemany(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
            [(p, r.size, r.mtime_ns, r.hash, r.language) for p, r, _, _ in upserts],
        )
        changed = [(p, d, i) for p, _, d, i in upserts if d is not None]
        db.executemany("DELETE FROM definitions WHERE path = ?", [(p,) for p, _, _ in changed])
        db.executemany("DELETE FROM imports WHERE path = ?", [(p,) for p, _, _ in changed])
        db.executemany(
            "INSERT INTO definitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (d.path, d.name, d.kind, d.signature, d.doc, d.start_line, d.end_line, d.excerpt)
                for _, defs, _ in changed
                for d in defs or ()
            ],
        )
        db.executemany(
            "INSERT INTO imports VALUES (?, ?)",
            [(p, text) for p, _, imports in changed for text in imports or ()],
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
