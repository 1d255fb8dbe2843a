"""Builds the language server: the shared application state, then each feature in order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from pygls.lsp.server import LanguageServer

from aicockpit import __version__
from aicockpit.cache_dirs import workspace_cache_dir
from aicockpit.chat.service import ChatService
from aicockpit.chat.store import ChatStore
from aicockpit.completion.prewarm import Prewarmer
from aicockpit.completion.scheduler import CompletionScheduler
from aicockpit.completion.service import CompletionService
from aicockpit.config import AicockpitConfig, UsageConfig, decode_config
from aicockpit.config_changes import ChangeCallback, ConfigChanges, Live
from aicockpit.context.documents import DocumentStore, TextDocument
from aicockpit.context.files import WorkspaceFiles
from aicockpit.context.open_documents import OpenDocumentIndex, follow
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.edit.service import EditService
from aicockpit.engine.host import EngineHost
from aicockpit.engine.routing import Router
from aicockpit.features import FEATURES
from aicockpit.features.logs import LogMessageHandler
from aicockpit.health import HealthMonitor
from aicockpit.lanes import Lanes
from aicockpit.next_edit.service import NextEditService
from aicockpit.prompt.assemble import PromptAssembler
from aicockpit.protocol import RobustProtocol, TypedMessage
from aicockpit.telemetry import Telemetry
from aicockpit.usage import UsageStore

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    """Everything the features share. Plain objects: no LSP in here."""

    overrides: dict[str, Any]
    host: EngineHost
    config: AicockpitConfig = field(default_factory=AicockpitConfig)
    documents: DocumentStore = field(default_factory=DocumentStore)
    telemetry: Telemetry = field(default_factory=Telemetry)
    # Features hear about the settings they read: app.subscribe("index", on_index).
    changes: ConfigChanges = field(default_factory=ConfigChanges)
    # Run by lifecycle after ``initialized`` and on ``shutdown`` (background services: the index).
    startup_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    workspace: WorkspaceFiles | None = None

    # The services the features call, built from the config by __post_init__.
    index: WorkspaceIndex = field(init=False)
    assembler: PromptAssembler = field(init=False)
    open_index: OpenDocumentIndex = field(init=False)
    router: Router = field(init=False)
    completions: CompletionService = field(init=False)
    scheduler: CompletionScheduler = field(init=False)
    prewarmer: Prewarmer = field(init=False)
    health: HealthMonitor = field(init=False)
    edits: EditService = field(init=False)
    chat: ChatService = field(init=False)
    next_edits: NextEditService = field(init=False)

    def __post_init__(self) -> None:
        self.config, problems = decode_config(self.overrides)
        if problems:
            raise ValueError("; ".join(problems))
        self.index = WorkspaceIndex(self.config.index)
        # One live view per setting read at each request, shared by the services that read it.
        config, completion = self.changes.live_config(self.config), self.live("completion")
        self.assembler = PromptAssembler(self.documents, self.index, config)
        self.documents.close_listeners.append(self.assembler.forget)
        # The index follows the editor's text on the document-change path: prompt builds only read.
        self.open_index = follow(self.documents, self.index)
        # Features ask the router for a role's engine: router.for_role("chat").generate(...)
        self.router = Router(
            self.host, usage=self._usage_store(self.config.usage), prompts=self.telemetry.prompts
        )
        self.telemetry.prompts.enabled = self.config.logging.prompts
        self.router.configure(self.config)
        self.completions = CompletionService(
            self.documents,
            self.router.host_for_role("completion"),
            self.telemetry,
            completion,
            self.assembler,
        )
        # Editor requests go through the scheduler; ``completions`` alone serves one-shot callers.
        # Per document, the newest request of a kind counts: completions and next edits alike.
        self.lanes = Lanes()
        self.scheduler = CompletionScheduler(
            self.completions,
            self.documents,
            self.router.host_for_role("completion"),
            self.telemetry,
            completion,
            lanes=self.lanes,
        )
        self.health = HealthMonitor(self.router, self.telemetry, config)
        self.edits = EditService(
            self.documents,
            lambda: self.router.for_role("edit"),
            self.live("edit"),
            self.is_secret,
            self.assembler.related_definitions,
        )
        self.chat = ChatService(
            self.chat_store,
            lambda: self.workspace,
            self.documents,
            lambda: self.router.for_role("chat"),
            self.live("chat"),
            self.is_secret,
            lambda: self.index,
            self.assembler.related_definitions,
        )
        self.next_edits = NextEditService(
            self.documents,
            self.index,
            lambda: self.router.for_role("next_edit"),
            self.live("next_edit"),
            self.is_secret,
            self.telemetry,
            self.lanes,
        )
        self.documents.close_listeners.append(self.next_edits.forget)
        self.prewarmer = Prewarmer(
            self.completions,
            self.router.host_for_role("completion"),
            self.telemetry,
            completion,
            self.next_edits.stable_head,
        )
        self.router.request_listeners.append(self.prewarmer.yield_now)
        self.documents.close_listeners.append(self.prewarmer.forget)
        self._chat_store: ChatStore | None = None
        self.subscribe("usage", self._replace_usage_store)
        self.subscribe("logging", lambda _old, new: setattr(self.telemetry.prompts, "enabled", new.prompts))
        # Another model now serves completions: suggestions of the old one are not reused.
        self.subscribe(("roles", "profiles"), lambda _old, _new: self.scheduler.reset())

    def live(self, section: str) -> Live[Any]:
        """A config section as it is now, for services that read it at each request."""
        return self.changes.live(section, getattr(self.config, section))

    def subscribe(self, sections: str | tuple[str, ...], callback: ChangeCallback) -> None:
        """``callback(previous, current)`` when these config sections change (config_changes.py)."""
        self.changes.subscribe(sections, callback)

    def is_secret(self, doc: TextDocument) -> bool:
        """A secrets file by the configured patterns: its text never goes to a model."""
        return self.index.is_secret(doc.path, doc.uri)

    def chat_store(self) -> ChatStore:
        """Sessions of this workspace, opened on first use."""
        if self._chat_store is None:
            root = self.workspace.root if self.workspace else None
            folder = workspace_cache_dir(root, self.config.cache_dir)
            self._chat_store = ChatStore(folder / "chat.sqlite")
        return self._chat_store

    @staticmethod
    def _usage_store(config: UsageConfig) -> UsageStore | None:
        return UsageStore(config.path) if config.enabled else None

    def _replace_usage_store(self, _previous: UsageConfig, current: UsageConfig) -> None:
        old, self.router.usage = self.router.usage, self._usage_store(current)
        if old is not None:
            old.close()

    def configure(self, options: Any, base: AicockpitConfig | None = None) -> list[str]:
        """Apply client options (over ``base``, default: the current config); CLI flags win.

        Returns the problems found; bad fields keep their previous values.
        """
        config, problems = decode_config(options, base or self.config)
        config, _ = decode_config(self.overrides, config)
        previous, self.config = self.config, config
        self.router.configure(config)  # first: the subscribers ask the router for engines
        self.changes.publish(previous, config)
        return problems


class AicockpitServer(LanguageServer):
    """The LSP side the features share; everything else is on ``app``."""

    protocol: RobustProtocol

    def __init__(self, app: App) -> None:
        super().__init__("aicockpit", __version__, protocol_cls=RobustProtocol)
        self.app = app
        # Run by the protocol at initialize, once pygls has built the server's capabilities:
        # a feature can withdraw what this client should not use.
        self.capability_adjusters = self.protocol.capability_adjusters
        # aicockpit's log lines as window/logMessage, from initialize on (features/logs.py).
        self.log_messages = LogMessageHandler(self)

    def typed_feature(
        self, method: str, params: type[msgspec.Struct], options: Any = None
    ) -> Callable[[F], F]:
        """pygls's ``feature``, with the params decoded by msgspec into ``params`` (a Struct
        of features/params.py) instead of lsprotocol's class: for the messages every keystroke
        brings. Params that do not fit are answered (or, for a notification, logged) as any."""
        self.protocol.typed_params[method] = TypedMessage[params]  # type: ignore[valid-type]
        return self.feature(method, options)


def build_server(overrides: dict[str, Any] | None = None, host: EngineHost | None = None) -> AicockpitServer:
    server = AicockpitServer(App(overrides or {}, host or EngineHost()))
    for setup in FEATURES:
        setup(server, server.app)
    return server
