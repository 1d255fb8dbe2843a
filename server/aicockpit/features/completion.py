"""textDocument/completion: the ghost-text suggestion as one completion item.

For editors without inline completion (Helix, Neovim before 0.12). Same pipeline
as inline completion; the list is marked incomplete so the editor asks again as
the user types. A client that declares inline completion is not offered this
provider: it would show every suggestion twice, as ghost text and as a list item
that Tab takes first (VS Code with its default settings). It still gets an answer
if it asks.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from lsprotocol import types

from aicockpit.context.documents import UnknownDocument
from aicockpit.context.positions import Position
from aicockpit.features.inline_completion import accepted_command, to_lsp
from aicockpit.protocol import RECEIVED_AT

if TYPE_CHECKING:
    from aicockpit.server import AicockpitServer, App

log = logging.getLogger(__name__)

_WORD_BEFORE = re.compile(r"[\w$]*$")
LABEL_CHARS = 60


def label_for(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    return first if len(first) <= LABEL_CHARS else first[: LABEL_CHARS - 1] + "…"


def shows_ghost_text(client: types.ClientCapabilities) -> bool:
    """The client declared ``textDocument/inlineCompletion``: it shows suggestions as ghost text."""
    return client.text_document is not None and client.text_document.inline_completion is not None


def withdraw_for_ghost_text_clients(client: types.ClientCapabilities, caps: types.ServerCapabilities) -> None:
    if shows_ghost_text(client) and caps.completion_provider is not None:
        log.info("the client shows ghost text: the completion-item fallback is not advertised")
        caps.completion_provider = None


def setup(server: AicockpitServer, app: App) -> None:
    server.capability_adjusters.append(withdraw_for_ghost_text_clients)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        tag = params.work_done_token if isinstance(params.work_done_token, str) else None
        position = Position(params.position.line, params.position.character)
        app.prewarmer.served(uri, position)
        # Asked by a key (not by typing a trigger character): the user waits for it.
        context = params.context
        invoked = context is None or context.trigger_kind == types.CompletionTriggerKind.Invoked
        suggestion = await app.scheduler.complete(
            uri, position, tag=tag, channel="completion", invoked=invoked, received_at=RECEIVED_AT.get()
        )
        if suggestion is None:
            return types.CompletionList(is_incomplete=True, items=[])
        try:
            doc = app.documents.get(uri)
        except UnknownDocument:  # closed while we generated
            return types.CompletionList(is_incomplete=True, items=[])
        lines = doc.lines
        # The scheduler checked the version, but a client can reopen the document under the
        # same version with a shorter text: never index past the lines there are now.
        position = lines.clamp(suggestion.position)
        at = to_lsp(position)
        column = lines.offset(position) - lines.starts[at.line]
        word = _WORD_BEFORE.search(lines.line(at.line)[:column])
        typed = word.group(0) if word else ""
        item = types.CompletionItem(
            # The word being typed and its end (`sum(prices)` after `su`), as the menu shows words.
            label=label_for(typed + suggestion.text),
            kind=types.CompletionItemKind.Snippet,
            detail="aicockpit",
            # Clients filter by the word before the cursor; keep it so the item survives.
            filter_text=typed + suggestion.text,
            sort_text="0",
            preselect=True,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=types.Range(start=at, end=at), new_text=suggestion.text),
            documentation=_documentation(server, suggestion.text, doc.language_id),
            command=accepted_command(uri, suggestion),  # run by the editor after inserting the item
        )
        return types.CompletionList(is_incomplete=True, items=[item])


def _documentation(server: AicockpitServer, text: str, language: str) -> str | types.MarkupContent:
    caps = server.client_capabilities.text_document
    formats = (
        caps.completion.completion_item.documentation_format
        if caps and caps.completion and caps.completion.completion_item
        else None
    )
    if formats and types.MarkupKind.Markdown in formats:
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```{language}\n{text}\n```")
    return text
