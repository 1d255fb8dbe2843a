"""Where a one-shot command's log goes (``aicockpit complete``, ``edit``, ``chat``).

While the engine starts, vLLM, torch and the processes they start write two dozen
warnings to stderr, some from Python, some from C++: more than the answer itself.
Without ``--verbose``, file descriptor 2 points at a log file for the run, so all of
that lands there whoever writes it; the terminal gets what aicockpit says (``say``,
and its own log lines) and any library's errors. A failed run ends with the log's path.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

_console: TextIO | None = None  # the terminal's stderr while a quiet run holds fd 2


def say(text: str) -> None:
    """A line for the user on stderr, whether or not the run is quiet."""
    print(text, file=_console or sys.stderr, flush=True)


class ShownOnConsole(logging.Filter):
    """aicockpit's own lines at its level; other libraries' only when they are errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("aicockpit") or record.levelno >= logging.ERROR


def console_handler() -> logging.Handler | None:
    """While a run is quiet: a handler for the terminal, for what ``ShownOnConsole`` lets by."""
    if _console is None:
        return None
    handler = logging.StreamHandler(_console)
    handler.addFilter(ShownOnConsole())
    return handler


class CommandLog:
    """``with CommandLog(verbose, "complete") as log: ...; log.failed = code != 0``."""

    def __init__(self, verbose: bool, name: str) -> None:
        self.verbose = verbose
        self.name = name
        self.failed = False
        self.path: Path | None = None

    def __enter__(self) -> CommandLog:
        global _console
        if not self.verbose:
            fd, path = tempfile.mkstemp(prefix=f"aicockpit-{self.name}-", suffix=".log")
            self.path = Path(path)
            sys.stderr.flush()
            _console = os.fdopen(os.dup(2), "w", buffering=1)
            os.dup2(fd, 2)  # from here on, whatever writes to stderr writes to the log
            os.close(fd)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        global _console
        if _console is None or self.path is None:
            return
        sys.stderr.flush()
        os.dup2(_console.fileno(), 2)  # a traceback, if one follows, reaches the terminal
        _console.close()
        _console = None
        if (self.failed or exc_type is not None) and self.path.stat().st_size:
            say(f"aicockpit: the whole log of this run: {self.path} (-v shows it as it runs)")
        else:
            self.path.unlink(missing_ok=True)
