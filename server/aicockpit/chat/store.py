"""Chat sessions in SQLite, one database per workspace (in its cache folder), off the event loop."""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aicockpit.database_thread import DatabaseThread

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    PRIMARY KEY (session_id, idx)
);
"""


class UnknownSession(KeyError):
    pass


@dataclass(frozen=True)
class StoredMessage:
    index: int
    role: str
    content: str
    prompt_tokens: int
    completion_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "role": self.role,
            "content": self.content,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


class ChatStore:
    """Every method runs in the database's own thread (database_thread.py): the loop only awaits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = DatabaseThread("chat", self._connect)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path)
        db.execute("PRAGMA foreign_keys = ON")
        db.executescript(SCHEMA)
        return db

    def close(self, wait: bool = False) -> None:
        self._db.close(wait)

    async def create(self, title: str) -> str:
        return await self._db.run(lambda db: _create(db, title))

    async def exists(self, session: str) -> bool:
        return await self._db.run(lambda db: _exists(db, session))

    async def add(
        self, session: str, role: str, content: str, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> int:
        def add(db: sqlite3.Connection) -> int:
            _require(db, session)
            with db:
                count: int = db.execute(
                    "SELECT COUNT(*) FROM messages WHERE session_id = ?", (session,)
                ).fetchone()[0]
                db.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (session, count, role, content, prompt_tokens, completion_tokens, time.time()),
                )
                db.execute("UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), session))
            return count

        return await self._db.run(add)

    async def history(self, session: str) -> list[StoredMessage]:
        return await self._db.run(lambda db: _history(db, session))

    async def sessions(self) -> list[dict[str, Any]]:
        def sessions(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT s.id, s.title, s.updated, COUNT(m.idx) FROM sessions s "
                "LEFT JOIN messages m ON m.session_id = s.id GROUP BY s.id ORDER BY s.updated DESC"
            )
            return [{"id": i, "title": t, "updated": u, "messages": n} for i, t, u, n in rows]

        return await self._db.run(sessions)

    async def rename(self, session: str, title: str) -> None:
        def rename(db: sqlite3.Connection) -> None:
            _require(db, session)
            with db:
                db.execute("UPDATE sessions SET title = ? WHERE id = ?", (title[:80], session))

        await self._db.run(rename)

    async def fork(self, session: str, index: int) -> str:
        """A new session holding this one's messages up to and including ``index``."""

        def fork(db: sqlite3.Connection) -> str:
            messages = _history(db, session)
            if not 0 <= index < len(messages):
                raise IndexError(f"session {session!r} has no message {index}")
            (title,) = db.execute("SELECT title FROM sessions WHERE id = ?", (session,)).fetchone()
            forked = _create(db, f"{title} (fork)")
            with db:
                db.executemany(
                    "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            forked,
                            m.index,
                            m.role,
                            m.content,
                            m.prompt_tokens,
                            m.completion_tokens,
                            time.time(),
                        )
                        for m in messages[: index + 1]
                    ],
                )
            return forked

        return await self._db.run(fork)

    async def delete(self, session: str) -> None:
        def delete(db: sqlite3.Connection) -> None:
            _require(db, session)
            with db:
                db.execute("DELETE FROM sessions WHERE id = ?", (session,))

        await self._db.run(delete)


# In the database's thread:


def _create(db: sqlite3.Connection, title: str) -> str:
    session = uuid.uuid4().hex[:12]
    now = time.time()
    with db:
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (session, title[:80], now, now))
    return session


def _exists(db: sqlite3.Connection, session: str) -> bool:
    return db.execute("SELECT 1 FROM sessions WHERE id = ?", (session,)).fetchone() is not None


def _require(db: sqlite3.Connection, session: str) -> None:
    if not _exists(db, session):
        raise UnknownSession(f"no chat session {session!r}")


def _history(db: sqlite3.Connection, session: str) -> list[StoredMessage]:
    _require(db, session)
    rows = db.execute(
        "SELECT idx, role, content, prompt_tokens, completion_tokens FROM messages "
        "WHERE session_id = ? ORDER BY idx",
        (session,),
    )
    return [StoredMessage(*row) for row in rows]
