"""Server logs to ``window/logMessage`` (and stderr, set up by the CLI). Never stdout."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from aicockpit.log_setup import set_level

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

LEVELS = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}


class LogMessageHandler(logging.Handler):
    """Sends log records as ``window/logMessage`` once ``bind`` (at initialize) gave it the loop."""

    def __init__(self, server: LanguageServer) -> None:
        super().__init__()
        self._server = server
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.get_ident()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._thread = loop, threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        kind = next((t for level, t in LEVELS.items() if record.levelno >= level), types.MessageType.Log)
        params = types.LogMessageParams(type=kind, message=self.format(record))
        try:
            if threading.get_ident() == self._thread:
                self._server.window_log_message(params)
            else:
                self._loop.call_soon_threadsafe(self._server.window_log_message, params)
        except Exception:  # a log line must never break the server
            pass


def setup(server: AicockpitServer, app: App) -> None:
    logging.getLogger("aicockpit").addHandler(server.log_messages)
    app.subscribe("logging", lambda _old, new: set_level(new.level))
