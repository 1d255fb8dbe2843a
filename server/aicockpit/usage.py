"""Token usage per role, model and day, kept in SQLite in the cache directory.

Serves ``aicockpit/usage`` and ``aicockpit usage``. One row per (day, role,
profile, model) with running sums; a write is one small upsert, done on the
caller's thread (well under a millisecond on a local disk).
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from aicockpit.cache_dirs import cache_root

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


def default_path() -> Path:
    return cache_root() / "usage.sqlite3"


class UsageStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=2)
            db.execute("PRAGMA journal_mode=WAL")  # several servers (one per editor window) share it
            db.execute("PRAGMA synchronous=NORMAL")  # no fsync per request on the event loop
            db.execute(SCHEMA)
            db.commit()
            self._db = db
        return self._db

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
        """Add one request. Never raises: losing a usage row must not cost the user an answer."""
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
        try:
            with self._lock:
                db = self._connect()
                db.execute(
                    "INSERT INTO usage (day, role, profile, model, requests, failed, prompt_tokens,"
                    " cached_tokens, completion_tokens) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)"
                    " ON CONFLICT (day, role, profile, model) DO UPDATE SET"
                    " requests = requests + 1, failed = failed + excluded.failed,"
                    " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
                    " cached_tokens = cached_tokens + excluded.cached_tokens,"
                    " completion_tokens = completion_tokens + excluded.completion_tokens",
                    values,
                )
                db.commit()
        except (sqlite3.Error, OSError) as err:
            log.warning("could not record token usage in %s: %s", self.path, err)

    def report(self, days: int | None = None, role: str | None = None) -> dict[str, Any]:
        """Rows newest day first, and totals per role and model."""
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
        if not self.path.exists():
            return {"path": str(self.path), "rows": [], "totals": []}
        with self._lock:
            rows = [
                dict(zip(("day", "role", "profile", "model", *COUNTS), row, strict=True))
                for row in self._connect().execute(query, args)
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

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


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
