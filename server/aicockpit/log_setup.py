"""Logs go to stderr (stdout carries the protocol); the one place the log level is set."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(level: str) -> None:
    """At start: stderr for every logger, ``level`` for aicockpit's (the CLI's --log-level or its default)."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    set_level(level)
    # vLLM is chatty at INFO; its details matter only when debugging.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "DEBUG" if level == "debug" else "WARNING")


def set_level(level: str) -> None:
    """aicockpit's log level: at start, and whenever ``logging.level`` changes in the config."""
    logging.getLogger("aicockpit").setLevel(level.upper())
