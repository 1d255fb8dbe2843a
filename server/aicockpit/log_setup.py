"""Logs go to stderr (stdout carries the protocol); the one place the log level is set."""

from __future__ import annotations

import logging
import os
import sys

from aicockpit.cli_log import console_handler


def setup_logging(level: str) -> None:
    """At start: stderr for every logger, ``level`` for aicockpit's (the CLI's --log-level or its default).

    While a one-shot command is quiet (cli_log.py), stderr is its log file, and the terminal
    also gets aicockpit's own lines and any library's errors.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if (console := console_handler()) is not None:
        handlers.append(console)
    logging.basicConfig(
        handlers=handlers, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    set_level(level)
    # vLLM is chatty at INFO; its details matter only when debugging.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "DEBUG" if level == "debug" else "WARNING")


def set_level(level: str) -> None:
    """aicockpit's log level: at start, and whenever ``logging.level`` changes in the config."""
    logging.getLogger("aicockpit").setLevel(level.upper())
