"""Chat while the bench types: the chat store and the chat role busy, as when a user asks on the side.

Every ``every_s`` seconds one ``aicockpit/chat`` message (a session runs four
messages, then a new one starts, so history is read and grows), followed by the
session list and the session's history: each touches the sessions database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from aicockpit.bench.client import LspClient, LspError
from aicockpit.telemetry import percentile

QUESTIONS = (
    "What does @shop/pricing.py compute?",
    "Explain in one sentence what checkout does.",
    "Which function applies the discount?",
    "Suggest a better name for the total variable.",
)
MESSAGES_PER_SESSION = 4
ANSWER_TIMEOUT_S = 120


async def every(seconds: float, stop: asyncio.Event) -> AsyncIterator[None]:
    """Once every ``seconds`` until ``stop`` is set (at once, not at the next turn)."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), seconds)
            return
        except TimeoutError:
            yield


class ChatLoad:
    def __init__(self, client: LspClient, every_s: float) -> None:
        self.client = client
        self.every_s = every_s
        self.sent = 0
        self.answered = 0
        self.failed: list[str] = []
        self.latency_ms: list[float] = []
        self.sessions: set[str] = set()
        self._stop = asyncio.Event()

    async def run(self) -> None:
        session: str | None = None
        async for _ in every(self.every_s, self._stop):
            if self.sent % MESSAGES_PER_SESSION == 0:
                session = None
            session = await self._ask(QUESTIONS[self.sent % len(QUESTIONS)], session)

    async def _ask(self, message: str, session: str | None) -> str | None:
        self.sent += 1
        params: dict[str, Any] = {"message": message}
        if session is not None:
            params["session"] = session
        started = time.perf_counter()
        try:
            reply = await self.client.request("aicockpit/chat", params, timeout=ANSWER_TIMEOUT_S)
            self.latency_ms.append((time.perf_counter() - started) * 1000)
            self.answered += 1
            session = reply["session"]
            self.sessions.add(session)
            await self.client.request("aicockpit/chat/sessions", None)
            await self.client.request("aicockpit/chat/history", {"session": session})
            return session
        except (LspError, TimeoutError) as err:
            self.failed.append(f"{type(err).__name__}: {err}")
            return session

    def stop(self) -> None:
        self._stop.set()

    def report(self) -> dict[str, Any]:
        return {
            "every_s": self.every_s,
            "sent": self.sent,
            "answered": self.answered,
            "failed": len(self.failed),
            "failures": self.failed[:5],
            "sessions": len(self.sessions),
            "latency_ms": {f"p{q}": round(percentile(self.latency_ms, q), 1) for q in (50, 95)},
        }
