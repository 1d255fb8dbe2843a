"""Per document, the newest request of a kind is the one that counts: supersede, settle, cancel.

Ghost text, the completion-list fallback and next edits each have a lane per
document. ``take`` starts a request in its lane: the request it replaces learns
at once (its ticket's ``superseded`` fires: it answers empty and aborts its
generation). ``settle`` is the debounce: it waits unless a newer request comes
first. One mechanism for every kind; the waits differ (completions adapt theirs
to the typing rhythm, next edits wait for the edits to settle), and editors add
no timers of their own on top.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aicockpit.background import spawn
from aicockpit.waiting import Clock, Signal, first_of

T = TypeVar("T")


@dataclass(eq=False)
class Ticket:
    """One request in its lane; a newer request of the same lane sets ``superseded``."""

    uri: str
    lane: str
    superseded: Signal = field(default_factory=Signal)


class Lanes:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        self._current: dict[tuple[str, str], Ticket] = {}

    def take(self, uri: str, lane: str) -> Ticket:
        """A new request in ``uri``'s ``lane``: the one waiting there is superseded."""
        older = self._current.get((uri, lane))
        if older is not None:
            older.superseded.set()
        ticket = self._current[(uri, lane)] = Ticket(uri, lane)
        return ticket

    def release(self, ticket: Ticket) -> None:
        """The request has answered: its lane is free (unless a newer one took it)."""
        if self._current.get((ticket.uri, ticket.lane)) is ticket:
            del self._current[(ticket.uri, ticket.lane)]

    def current(self, ticket: Ticket) -> bool:
        return self._current.get((ticket.uri, ticket.lane)) is ticket

    async def settle(self, ticket: Ticket, seconds: float) -> bool:
        """Wait ``seconds`` for a newer request; True if none came (this one goes on)."""
        if seconds > 0 and await first_of(self._clock, [ticket.superseded], seconds) is ticket.superseded:
            return False
        return not ticket.superseded.is_set()

    async def unless_superseded(self, ticket: Ticket, work: Coroutine[Any, Any, T], name: str) -> T | None:
        """``work``'s result, or None when a newer request supersedes this one first: then, as when
        this request itself is cancelled, the work is cancelled (a generation's stream closes,
        which aborts it in the engine)."""
        task = spawn(work, name=name, awaited=True)
        done = Signal()
        task.add_done_callback(lambda _: done.set())
        try:
            fired = await first_of(None, [done, ticket.superseded], None)
        except BaseException:
            task.cancel()
            raise
        if fired is not done:
            task.cancel()
            return None
        return task.result()

    def forget(self, uri: str, lane: str) -> None:
        """The document closed: the request waiting in its lane answers now."""
        ticket = self._current.pop((uri, lane), None)
        if ticket is not None:
            ticket.superseded.set()
