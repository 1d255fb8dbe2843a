"""The project index on disk: one SQLite file per workspace folder, under the cache folder.

A restart loads it and re-reads only the files whose size or mtime changed (and
re-parses only those whose content hash changed). A cache from another schema
version is dropped and rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from aicockpit.cache_dirs import cache_root
from aicockpit.context.symbols import Definition

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class FileRecord:
    size: int
    mtime_ns: int
    hash: str  # "" for files listed but not read (no grammar)
    language: str | None


def database_path(cache_dir: str | Path | None, root: Path) -> Path:
    folder = Path(cache_dir).expanduser() if cache_dir else cache_root()
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return folder / "index" / f"{root.name or 'root'}-{digest}.sqlite"


class IndexStore:
    """Thread-safe: the crawl and the watcher write from worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._meta("schema")
        if version != SCHEMA_VERSION:
            if version is not None:
                log.info("index cache %s has schema %s: rebuilding", path, version)
            self._db.executescript(
                "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS definitions; DROP TABLE IF EXISTS imports;"
            )
        self._db.executescript(
            """
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
        )
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _meta(self, key: str) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def load(self) -> tuple[dict[str, FileRecord], dict[str, list[Definition]], dict[str, list[str]]]:
        with self._lock:
            files = {
                row[0]: FileRecord(row[1], row[2], row[3], row[4])
                for row in self._db.execute("SELECT path, size, mtime_ns, hash, language FROM files")
            }
            definitions: dict[str, list[Definition]] = {}
            for row in self._db.execute(
                "SELECT path, name, kind, signature, doc, start_line, end_line, excerpt FROM definitions "
                "ORDER BY rowid"
            ):
                definitions.setdefault(row[0], []).append(Definition(*row))
            imports: dict[str, list[str]] = {}
            for path, text in self._db.execute("SELECT path, text FROM imports ORDER BY rowid"):
                imports.setdefault(path, []).append(text)
        return files, definitions, imports

    def write(
        self,
        upserts: list[tuple[str, FileRecord, list[Definition] | None, list[str] | None]],
        deletes: list[str],
    ) -> None:
        """One transaction. ``None`` symbols: only the file's stat changed (same hash)."""
        if not upserts and not deletes:
            return
        with self._lock:
            db = self._db
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

    def close(self) -> None:
        with self._lock:
            self._db.close()
