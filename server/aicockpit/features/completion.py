"""textDocument/completion: the ghost-text suggestion as one completion item.

For editors without inline completion (Helix, older Neovim). Same pipeline as
inline completion; the list is marked incomplete so the editor asks again as
the user types.
"""

from __future__ import annotations

import re

from lsprotocol import types

from aicockpit.context.documents import UnknownDocument
from aicockpit.context.positions import Position
from aicockpit.features.inline_completion import accepted_command, to_lsp

_WORD_BEFORE = re.compile(r"[\w$]*$")
LABEL_CHARS = 60


def label_for(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    return first if len(first) <= LABEL_CHARS else first[: LABEL_CHARS - 1] + "…"


def setup(server, app) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        tag = params.work_done_token if isinstance(params.work_done_token, str) else None
        suggestion = await app.scheduler.complete(
            uri, Position(params.position.line, params.position.character), tag=tag, channel="completion"
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
        item = types.CompletionItem(
            label=label_for(suggestion.text),
            kind=types.CompletionItemKind.Snippet,
            detail="aicockpit",
            # Clients filter by the word before the cursor; keep it so the item survives.
            filter_text=(word.group(0) if word else "") + suggestion.text,
            sort_text="0",
            preselect=True,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=types.Range(start=at, end=at), new_text=suggestion.text),
            documentation=_documentation(server, suggestion.text, doc.language_id),
            command=accepted_command(uri, suggestion),  # run by the editor after inserting the item
        )
        return types.CompletionList(is_incomplete=True, items=[item])


def _documentation(server, text: str, language: str) -> str | types.MarkupContent:
    caps = server.client_capabilities.text_document
    formats = (
        caps.completion.completion_item.documentation_format
        if caps and caps.completion and caps.completion.completion_item
        else None
    )
    if formats and types.MarkupKind.Markdown in formats:
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```{language}\n{text}\n```")
    return text
