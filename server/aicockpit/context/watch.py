"""File events into index updates: coalesced, off the event loop.

Events come either from the editor (``workspace/didChangeWatchedFiles``) or from
watchdog, never both. A burst (a branch switch touching thousands of files) is
coalesced: paths are collected until the stream has been quiet for the debounce
delay (or a maximum wait has passed), then handed over in one batch; the index
turns a big batch into a single stat-compare rescan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # watchdog is imported when a watcher starts (most sessions have the editor's)
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import ObservedWatch

log = logging.getLogger(__name__)

MAX_WAIT_FACTOR = 10  # flush at the latest after 10x the debounce delay, even mid-burst


class ChangeCoalescer:
    """Collects paths from any thread; one worker thread flushes them in batches."""

    def __init__(self, flush: Callable[[list[str]], None], debounce_s: float = 0.3) -> None:
        self._flush = flush
        self.debounce_s = debounce_s
        self._pending: set[str] = set()
        self._first = 0.0
        self._last = 0.0
        self._cond = threading.Condition()
        self._stopped = False
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name="aicockpit-index-events", daemon=True)
        self._thread.start()

    def add(self, paths: Iterable[str]) -> None:
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._pending.update(paths)
            self._last = now
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                now = time.monotonic()
                quiet_at = self._last + self.debounce_s
                latest = self._first + self.debounce_s * MAX_WAIT_FACTOR
                if now < min(quiet_at, latest):
                    self._cond.wait(min(quiet_at, latest) - now)
                    continue
                batch, self._pending = sorted(self._pending), set()
            try:
                self.batches += 1
                self._flush(batch)
            except Exception:
                log.exception("index update failed for %d paths", len(batch))

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)


class WatchdogWatcher:
    """watchdog observers on the workspace folders, for editors without a file watcher."""

    def __init__(self, sink: Callable[[Iterable[str]], None]) -> None:
        from watchdog.observers import Observer

        self._sink = sink
        self._observer = Observer()
        self._observer.daemon = True
        self._watches: dict[Path, ObservedWatch] = {}
        self._started = False

    def watch(self, root: Path) -> None:
        from watchdog.events import FileSystemEventHandler

        sink = self._sink

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed", "closed_no_write"):
                    return
                given = [event.src_path, getattr(event, "dest_path", "") or ""]
                paths = [p.decode() if isinstance(p, bytes) else p for p in given if p]
                paths = [p for p in paths if "/.git/" not in p and not p.endswith("/.git")]
                if paths:
                    sink(paths)

        if root in self._watches:
            return
        try:
            self._watches[root] = self._observer.schedule(Handler(), str(root), recursive=True)
        except OSError as err:  # inotify limits, a folder that vanished
            log.warning("cannot watch %s: %s", root, err)
            return
        if not self._started:
            self._observer.start()
            self._started = True

    def unwatch(self, root: Path) -> None:
        watch = self._watches.pop(root, None)
        if watch is not None:
            self._observer.unschedule(watch)

    def stop(self) -> None:
        if self._started:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._started = False
