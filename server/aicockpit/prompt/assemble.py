"""From a document and a cursor to the pieces of one completion prompt.

The completion pipeline calls ``PromptAssembler.build`` once per request and gets
back ``PromptPieces`` (repository snippets, the file header, prefix and suffix).
``aicockpit context`` and the
``aicockpit/context`` request call the same method, so what they show is what the
model gets.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from aicockpit.config import AicockpitConfig
from aicockpit.context.documents import DocumentStore, TextDocument, uri_to_path
from aicockpit.context.languages import for_document
from aicockpit.context.retrieve import CursorQuery, Retriever
from aicockpit.context.workspace_index import WorkspaceIndex
from aicockpit.prompt.fim import FimTemplate, TokenCounter, fim_window
from aicockpit.prompt.layout import REPO_FORMATS, PromptPieces, SnippetLayout
from aicockpit.prompt.tokens import LineCachedCounter

log = logging.getLogger(__name__)

HEADER_MAX_LINES = 40
_DEFINITION_WORDS = ("function", "class", "method", "decorated", "impl", "struct", "type_", "interface")


class PromptAssembler:
    def __init__(
        self,
        documents: DocumentStore,
        index: WorkspaceIndex,
        settings: Callable[[], AicockpitConfig],
    ) -> None:
        self.documents = documents
        self.index = index
        self.retriever = Retriever(documents, index)
        self.layout = SnippetLayout()
        self._settings = settings
        self._cached: LineCachedCounter | None = None
        self._synced: dict[str, int] = {}

    def build(
        self, doc: TextDocument, offset: int, tokens: TokenCounter, template: FimTemplate
    ) -> PromptPieces | None:
        """None when the document must never reach a model (a secrets file)."""
        if self.index.is_secret(doc.path, doc.uri):
            return None
        tokens = self._counter(tokens)
        config = self._settings()
        completion = config.completion
        text = doc.text
        before, after = fim_window(text, offset, tokens, completion.prefix_tokens, completion.suffix_tokens)
        lines = doc.lines
        line = lines.position(offset).line
        first_line = line - before.count("\n")
        last_line = line + after.count("\n")
        spec = for_document(doc.language_id, doc.uri)
        comment = spec.comment if spec else "#"
        display = self.index.display_path(doc.path, doc.uri) or os.path.basename(doc.uri)
        pieces = PromptPieces(
            repo=self._repo_name(doc), path=display, comment=comment, prefix=before, suffix=after
        )
        if first_line > 0 and config.context.header_tokens > 0:
            pieces.header = self._header(doc, first_line, tokens, config.context.header_tokens)
        context = config.context
        budget = self._context_budget(config, tokens, pieces, template)
        if context.enabled and budget > 0:
            query = CursorQuery(doc, display, offset, line, (first_line, last_line))
            try:
                self._sync_open_documents(doc.uri)
                candidates = self.retriever.candidates(
                    query,
                    context.time_budget_ms / 1000,
                    context.definitions,
                    context.similar_code,
                    context.recent_edits,
                )
            except Exception:  # retrieval must never cost the completion itself
                log.exception("context retrieval failed")
                candidates = []
            pieces.snippets, pieces.snippet_tokens = self.layout.fit(
                doc.uri, candidates, budget, tokens, template, comment
            )
        return pieces

    def _counter(self, tokens: TokenCounter) -> LineCachedCounter:
        if isinstance(tokens, LineCachedCounter):
            return tokens
        if self._cached is None or self._cached.tokens is not tokens:
            self._cached = LineCachedCounter(tokens)  # a new engine brings a new tokenizer
        return self._cached

    def _context_budget(
        self, config: AicockpitConfig, tokens: TokenCounter, pieces: PromptPieces, template: FimTemplate
    ) -> int:
        """The configured budget, less the repository framing, within the model's context length."""
        completion = config.completion
        room = (
            config.engine.max_model_len
            - completion.max_tokens
            - completion.prefix_tokens
            - completion.suffix_tokens
            - config.context.header_tokens
            - 16
        )
        repo_format = REPO_FORMATS.get(template.name)
        framing = (
            f"{repo_format.repo}{pieces.repo}\n{repo_format.file}{pieces.path}\n"
            if repo_format
            else f"{pieces.comment} {pieces.path}\n"
        )
        return max(0, min(config.context.budget_tokens, room) - self.layout.count(framing, tokens))

    def _header(self, doc: TextDocument, first_line: int, tokens: TokenCounter, budget: int) -> str:
        """The top of the file up to its first definition (imports, module constants)."""
        lines = doc.lines
        end_line = min(first_line, HEADER_MAX_LINES, lines.line_count)
        syntax = doc.syntax
        if syntax is not None:
            for child in syntax.tree.root_node.children:
                if any(word in child.type for word in _DEFINITION_WORDS):
                    end_line = min(end_line, child.start_point.row)
                    break
        if end_line <= 0:
            return ""
        header = doc.text[: lines.starts[end_line]]
        while header and tokens.count(header) > budget:
            header = header[: header.rstrip("\n").rfind("\n") + 1]
        return header

    def _repo_name(self, doc: TextDocument) -> str:
        found = self.index.folder_of(doc.path)
        return found[0].root.name if found else "workspace"

    def _sync_open_documents(self, current: str) -> None:
        """Open documents are indexed from the editor's text, not the disk.

        The document being typed in is indexed once when first seen, then only
        when it is no longer the current one: re-extracting a big file at every
        keystroke would cost more than the whole rest of the context build, and
        its own code near the cursor is in the prompt anyway.
        """
        for doc in self.documents.all():
            found = self.index.folder_of(doc.path)
            if found is None or (doc.uri == current and doc.uri in self._synced):
                continue
            self._synced[doc.uri] = doc.version
            index, rel = found
            syntax = doc.syntax
            tree = syntax.tree if syntax is not None else None
            index.update_open(rel, doc.version, doc.text, tree)

    def forget(self, uri: str) -> None:
        self.layout.forget(uri)
        self._synced.pop(uri, None)
        found = self.index.folder_of(uri_to_path(uri))
        if found is not None:
            found[0].close_open(found[1])
