"""Builds the language server: the shared application state, then each feature in order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pygls.lsp.server import LanguageServer

from aicockpit import __version__
from aicockpit.completion.service import CompletionService
from aicockpit.config import AicockpitConfig, decode_config
from aicockpit.context.documents import DocumentStore
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.engine.host import EngineHost
from aicockpit.prompt.assemble import PromptAssembler
from aicockpit.protocol import RobustProtocol
from aicockpit.telemetry import Telemetry

log = logging.getLogger(__name__)

ConfigListener = Callable[[AicockpitConfig, AicockpitConfig], None]


@dataclass
class App:
    """Everything the features share. Plain objects: no LSP in here."""

    overrides: dict[str, Any]
    host: EngineHost
    config: AicockpitConfig = field(default_factory=AicockpitConfig)
    documents: DocumentStore = field(default_factory=DocumentStore)
    telemetry: Telemetry = field(default_factory=Telemetry)
    listeners: list[ConfigListener] = field(default_factory=list)
    # Run by lifecycle after ``initialized`` and on ``shutdown`` (background services: the index).
    startup_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config, problems = decode_config(self.overrides)
        if problems:
            raise ValueError("; ".join(problems))
        self.index = WorkspaceIndex(self.config.index)
        self.assembler = PromptAssembler(self.documents, self.index, lambda: self.config)
        self.documents.close_listeners.append(self.assembler.forget)
        self.completions = CompletionService(
            self.documents,
            self.host,
            self.telemetry,
            lambda: (self.config.completion, self.config.engine),
            self.assembler,
        )

    def configure(self, options: Any, base: AicockpitConfig | None = None) -> list[str]:
        """Apply client options (over ``base``, default: the current config); CLI flags win.

        Returns the problems found; bad fields keep their previous values.
        """
        config, problems = decode_config(options, base or self.config)
        config, _ = decode_config(self.overrides, config)
        previous, self.config = self.config, config
        for listener in self.listeners:
            listener(previous, config)
        return problems


class AicockpitServer(LanguageServer):
    def __init__(self, app: App) -> None:
        super().__init__("aicockpit", __version__, protocol_cls=RobustProtocol)
        self.app = app


def build_server(overrides: dict[str, Any] | None = None, host: EngineHost | None = None) -> AicockpitServer:
    from aicockpit.features import FEATURES

    server = AicockpitServer(App(overrides or {}, host or EngineHost()))
    for feature in FEATURES:
        feature.setup(server, server.app)
    return server
