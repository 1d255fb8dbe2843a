"""Engine child processes: killed with their own children, and reaped.

No grace period: on SIGTERM vLLM's engine core tears itself down for ~3.5 s
here (vLLM allows it 5 s), only to release memory the OS reclaims anyway when
it is killed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from multiprocessing.process import BaseProcess

REAP_TIMEOUT_S = 0.5


def kill_trees(processes: Iterable[BaseProcess], timeout: float = REAP_TIMEOUT_S) -> None:
    """SIGKILL each process and its descendants, then reap them (waiting at most ``timeout`` in all)."""
    processes = [p for p in processes if p.is_alive()]
    for process in processes:
        for pid in [*_descendants(process.pid), process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))


def _descendants(pid: int | None) -> list[int]:
    """Children of children (vLLM's engine core starts its workers); psutil comes with vLLM."""
    try:
        import psutil

        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except Exception:  # no psutil, or the process is gone: vLLM's workers watch a death pipe
        return []
