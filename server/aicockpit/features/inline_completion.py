"""textDocument/inlineCompletion: ghost text."""

from __future__ import annotations

from lsprotocol import types

from aicockpit.context.positions import Position


def to_lsp(position: Position) -> types.Position:
    return types.Position(line=position.line, character=position.character)


def setup(server, app) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(params: types.InlineCompletionParams) -> types.InlineCompletionList:
        suggestion = await app.completions.complete(
            params.text_document.uri, Position(params.position.line, params.position.character)
        )
        if suggestion is None:
            return types.InlineCompletionList(items=[])
        at = to_lsp(suggestion.position)
        return types.InlineCompletionList(
            items=[
                types.InlineCompletionItem(insert_text=suggestion.text, range=types.Range(start=at, end=at))
            ]
        )
