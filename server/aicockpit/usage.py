"""Token usage per role, model and day, kept in SQLite in the cache directory.

Serves ``aicockpit/usage`` and ``aicockpit usage``. One row per (day, role,
profile, model) with running sums. ``record`` runs on the event loop after every
generation, so it only queues the row: the database's own thread
(database_thread.py) writes whatever has queued up meanwhile, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from aicockpit.cache_dirs import cache_root
from aicockpit.database_thread import DatabaseThread

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    day TEXT NOT NULL,
    role TEXT NOT NULL,
    profile TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, role, profile, model)
)
"""
COUNTS = ("requests", "failed", "prompt_tokens", "cached_tokens", "completion_tokens")
UPSERT = (
    "INSERT INTO usage (day, role, profile, model, requests, failed, prompt_tokens,"
    " cached_tokens, completion_tokens) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)"
    " ON CONFLICT (day, role, profile, model) DO UPDATE SET"
    " requests = requests + 1, failed = failed + excluded.failed,"
    " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
    " cached_tokens = cached_tokens + excluded.cached_tokens,"
    " completion_tokens = completion_tokens + excluded.completion_tokens"
)


def default_path() -> Path:
    return cache_root() / "usage.sqlite3"


class UsageStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self._db = DatabaseThread("usage", self._connect)
        self._lock = threading.Lock()  # guards the queue: the loop appends, the database thread takes
        self._queued: list[tuple[Any, ...]] = []
        self._flush_queued = False
        self.batches = 0  # transactions written (several rows each under load)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=2)
        db.execute("PRAGMA journal_mode=WAL")  # several servers (one per editor window) share it
        db.execute("PRAGMA synchronous=NORMAL")  # no fsync per transaction
        db.execute(SCHEMA)
        db.commit()
        return db

    def record(
        self,
        role: str,
        profile: str,
        model: str,
        *,
        prompt_tokens: int = 0,
        cached_tokens: int = 0,
        completion_tokens: int = 0,
        failed: bool = False,
        day: dt.date | None = None,
    ) -> None:
        """Queue one request's row (no disk here). Never raises: losing a row must not cost an answer."""
        values = (
            (day or dt.date.today()).isoformat(),
            role,
            profile,
            model,
            int(failed),
            prompt_tokens,
            cached_tokens,
            completion_tokens,
        )
        with self._lock:
            self._queued.append(values)
            if self._flush_queued:
                return  # the flush already queued takes this row too
            self._flush_queued = True
        try:
            self._db.submit(self._flush).add_done_callback(self._flush_done)
        except RuntimeError:  # closed: the server is going away
            log.warning("token usage not recorded: the usage store is closed")

    def _flush(self, db: sqlite3.Connection) -> None:
        with self._lock:
            rows, self._queued, self._flush_queued = self._queued, [], False
        if rows:
            with db:
                db.executemany(UPSERT, rows)
            self.batches += 1

    def _flush_done(self, future: Future[None]) -> None:
        error = future.exception()
        if error is not None:
            log.warning("could not record token usage in %s: %s", self.path, error)

    async def report(self, days: int | None = None, role: str | None = None) -> dict[str, Any]:
        """Rows newest day first, and totals per role and model (the queued rows included)."""
        try:
            return await self._db.run(lambda db: self._report(db, days, role))
        except (sqlite3.Error, OSError) as err:  # an unwritable cache folder: nothing was recorded
            log.warning("cannot read token usage from %s: %s", self.path, err)
            return {"path": str(self.path), "rows": [], "totals": []}

    def _report(self, db: sqlite3.Connection, days: int | None, role: str | None) -> dict[str, Any]:
        self._flush(db)
        where, args = [], []
        if days is not None:
            where.append("day >= ?")
            args.append((dt.date.today() - dt.timedelta(days=max(0, days - 1))).isoformat())
        if role:
            where.append("role = ?")
            args.append(role)
        query = "SELECT day, role, profile, model, " + ", ".join(COUNTS) + " FROM usage"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY day DESC, role, profile, model"
        rows = [
            dict(zip(("day", "role", "profile", "model", *COUNTS), row, strict=True))
            for row in db.execute(query, args)
        ]
        totals: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            total = totals.setdefault(
                (row["role"], row["model"]),
                {"role": row["role"], "model": row["model"], **dict.fromkeys(COUNTS, 0)},
            )
            for key in COUNTS:
                total[key] += row[key]
        return {"path": str(self.path), "rows": rows, "totals": list(totals.values())}

    def close(self, wait: bool = False) -> None:
        """Write what is queued, then close; ``wait`` blocks until done (never on the event loop)."""
        self._db.close(wait)


def format_table(report: dict[str, Any]) -> str:
    """The report as an aligned text table (for ``aicockpit usage``)."""
    header = ("day", "role", "profile", "model", *COUNTS)
    rows = [tuple(str(row[key]) for key in header) for row in report["rows"]]
    if not rows:
        return f"no usage recorded yet ({report['path']})"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
