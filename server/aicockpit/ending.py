"""Ending the server process within a second in any state, leaving no child process behind.

Python's own exit joins every worker thread first, and none of them can be
interrupted: vLLM's import and engine build (~20 s while the engine loads), an
index crawl, a tokenizer load. Nothing they hold has to outlive the process:
engine cores are child processes, killed here with their own children; SQLite
commits or rolls back each write by itself. So the process kills its children
and leaves with ``os._exit``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from typing import NoReturn

from aicockpit.engine.processes import kill_stragglers, kill_trees, remove_ipc_directory

log = logging.getLogger(__name__)


def end_process(code: int) -> NoReturn:
    """Kill every child process (with its own children) and leave now, whatever threads still run."""
    started = time.perf_counter()
    try:
        kill_trees(multiprocessing.active_children())
        stragglers = kill_stragglers()
        if stragglers:
            log.info("killed %d more processes this one had started: %s", len(stragglers), stragglers)
        remove_ipc_directory()  # the sockets the killed engine processes left
    except Exception:
        log.exception("stopping the child processes failed")
    log.info(
        "exit code %d, %.0f ms to stop the child processes", code, (time.perf_counter() - started) * 1000
    )
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)
