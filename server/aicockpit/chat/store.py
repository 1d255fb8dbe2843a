"""Chat sessions in SQLite, one database per workspace (in its cache folder)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

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

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "role": self.role,
            "content": self.content,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


class ChatStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def create(self, title: str) -> str:
        session = uuid.uuid4().hex[:12]
        now = time.time()
        with self._db:
            self._db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (session, title[:80], now, now))
        return session

    def exists(self, session: str) -> bool:
        return self._db.execute("SELECT 1 FROM sessions WHERE id = ?", (session,)).fetchone() is not None

    def _require(self, session: str) -> None:
        if not self.exists(session):
            raise UnknownSession(f"no chat session {session!r}")

    def add(
        self, session: str, role: str, content: str, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> int:
        self._require(session)
        with self._db:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM messages WHERE session_id = ?", (session,)
            ).fetchone()
            self._db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session, count, role, content, prompt_tokens, completion_tokens, time.time()),
            )
            self._db.execute("UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), session))
        return count

    def history(self, session: str) -> list[StoredMessage]:
        self._require(session)
        rows = self._db.execute(
            "SELECT idx, role, content, prompt_tokens, completion_tokens FROM messages "
            "WHERE session_id = ? ORDER BY idx",
            (session,),
        )
        return [StoredMessage(*row) for row in rows]

    def sessions(self) -> list[dict]:
        rows = self._db.execute(
            "SELECT s.id, s.title, s.updated, COUNT(m.idx) FROM sessions s "
            "LEFT JOIN messages m ON m.session_id = s.id GROUP BY s.id ORDER BY s.updated DESC"
        )
        return [{"id": i, "title": t, "updated": u, "messages": n} for i, t, u, n in rows]

    def rename(self, session: str, title: str) -> None:
        self._require(session)
        with self._db:
            self._db.execute("UPDATE sessions SET title = ? WHERE id = ?", (title[:80], session))

    def fork(self, session: str, index: int) -> str:
        """A new session holding this one's messages up to and including ``index``."""
        messages = self.history(session)
        if not 0 <= index < len(messages):
            raise IndexError(f"session {session!r} has no message {index}")
        (title,) = self._db.execute("SELECT title FROM sessions WHERE id = ?", (session,)).fetchone()
        forked = self.create(f"{title} (fork)")
        with self._db:
            self._db.executemany(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (forked, m.index, m.role, m.content, m.prompt_tokens, m.completion_tokens, time.time())
                    for m in messages[: index + 1]
                ],
            )
        return forked

    def delete(self, session: str) -> None:
        self._require(session)
        with self._db:
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session,))
