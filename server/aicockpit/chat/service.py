"""Answers chat messages: mentions and selection as context, history from the store."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aicockpit.chat.store import ChatStore
from aicockpit.config import ChatConfig
from aicockpit.context.documents import DocumentStore, TextDocument, UnknownDocument
from aicockpit.context.files import WorkspaceFiles
from aicockpit.context.mentions import IndexSymbols, ScanningSymbols, SymbolLookup, resolve_mentions
from aicockpit.context.positions import Position
from aicockpit.context.retrieve import ContextSnippet
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.engine.base import Engine
from aicockpit.engine.collect import generate_text, texts
from aicockpit.generation import Priority
from aicockpit.prompt.chat import Message, chat_messages, count_messages
from aicockpit.prompt.requests import chat_request

# Definitions from other files that a selection uses (document, first line, last line).
Related = Callable[[TextDocument, int, int], list[ContextSnippet]]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Selection:
    uri: str
    start: Position
    end: Position


@dataclass
class ChatReply:
    session: str
    reply: str
    notices: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "reply": self.reply,
            "notices": self.notices,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


class ChatService:
    def __init__(
        self,
        store: Callable[[], ChatStore],
        workspace: Callable[[], WorkspaceFiles | None],
        documents: DocumentStore,
        engine: Callable[[], Engine],
        settings: Callable[[], ChatConfig],
        is_secret: Callable[[TextDocument], bool],
        index: Callable[[], WorkspaceIndex] | None = None,
        related: Related | None = None,
    ) -> None:
        self._index = index
        self._related = related
        self._is_secret = is_secret
        self._store = store
        self._workspace = workspace
        self._documents = documents
        self._engine = engine
        self._settings = settings

    async def send(
        self,
        message: str,
        session: str | None = None,
        selection: Selection | None = None,
        on_delta: Callable[[str], None] | None = None,
        priority: Priority = Priority.CHAT,
    ) -> ChatReply:
        config = self._settings()
        engine = self._engine()  # EngineUnavailable before anything is stored
        store = self._store()
        if session is None:
            session = await store.create(message.strip().split("\n")[0] or "chat")
        stored = await store.history(session)
        history: list[Message] = [
            {"role": m.role, "content": m.content} for m in stored[-config.history_messages :]
        ]
        workspace = self._workspace()
        symbols = self._symbols(workspace)
        found = resolve_mentions(message, workspace, symbols)
        # What earlier messages of the session mentioned stays in view (read again: the
        # code may have changed), after this message's own; refusals are not repeated.
        earlier = [
            snippet
            for turn in reversed(history)
            if turn["role"] == "user"
            for snippet in resolve_mentions(turn["content"], workspace, symbols).snippets
        ]
        snippets: list[ContextSnippet] = []
        for snippet in [*found.snippets, *earlier]:
            if all(snippet.key != kept.key for kept in snippets):
                snippets.append(snippet)
        if selection is not None:
            # The selection first and what it uses last: when the conversation is too
            # long, snippets go from the end.
            chosen, related = self._selection_snippets(selection, found.notices)
            snippets = [*chosen, *snippets, *related]
        limit = engine.prompt_format.context_length - config.max_tokens
        prompt = self._fit(engine, history, message, snippets, limit)
        await store.add(session, "user", message, prompt_tokens=engine.tokenizer.count(message))
        pieces: list[str] = []

        def collect(text: str) -> None:
            pieces.append(text)
            if on_delta is not None:
                on_delta(text)

        request = chat_request(
            engine,
            prompt,
            request_id=f"chat-{uuid.uuid4().hex[:12]}",
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            priority=priority,
        )
        try:
            generated = await generate_text(engine, request, texts(collect))
        except BaseException:
            # Keep what the user read so far: a cancelled answer is still history.
            # The write is queued to the database's thread as the call starts: a second
            # cancellation while awaiting it does not lose it.
            if pieces:
                await store.add(session, "assistant", "".join(pieces) + "\n[cancelled]")
            raise
        await store.add(
            session, "assistant", generated.text, generated.prompt_tokens, generated.completion_tokens
        )
        return ChatReply(
            session, generated.text, found.notices, generated.prompt_tokens, generated.completion_tokens
        )

    def _symbols(self, workspace: WorkspaceFiles | None) -> SymbolLookup | None:
        """@symbol through the project index once it is built, by scanning files before."""
        if workspace is None:
            return None
        index = self._index() if self._index is not None else None
        if index is not None and index.folders and index.ready:
            return IndexSymbols(index, workspace)
        return ScanningSymbols(workspace)

    def _fit(
        self, engine: Engine, history: list[Message], message: str, snippets: list[ContextSnippet], limit: int
    ) -> list[Message]:
        """Drop the oldest history, then the last snippets, until the conversation fits."""
        while True:
            messages = chat_messages(history, message, snippets)
            if count_messages(engine.tokenizer, messages) <= limit:
                return messages
            if history:
                history = history[2:]
            elif snippets:
                snippets = snippets[:-1]
            else:
                return chat_messages([], engine.tokenizer.tail(message, max(limit // 2, 16)), [])

    def _selection_snippets(
        self, selection: Selection, notices: list[str]
    ) -> tuple[list[ContextSnippet], list[ContextSnippet]]:
        """The selected code, and the definitions from other files that it uses."""
        try:
            doc = self._documents.get(selection.uri)
        except UnknownDocument:
            return [], []
        name = selection.uri.rsplit("/", 1)[-1]
        if self._is_secret(doc):
            notices.append(f"the selection is in {name}, a secrets file; it was not sent to the model")
            return [], []
        lines = doc.lines
        start, end = lines.offset(lines.clamp(selection.start)), lines.offset(lines.clamp(selection.end))
        if end <= start:
            return [], []
        first, last = lines.position(start).line, lines.position(end).line
        chosen = [ContextSnippet(name, first, last, doc.text[start:end], "selected in the editor")]
        related = self._related(doc, first, last) if self._related is not None else []
        return chosen, related
