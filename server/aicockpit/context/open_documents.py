"""Keeps the project index in step with the editor's text of its open documents.

The index reads files from disk; an open document's truth is the editor's text.
This runs on the document-change path (``didOpen``, ``didChange``, ``didClose``),
so that building a prompt only reads: a document is indexed from its text when it
opens, and again once the user moves on to another one. The document being typed
in is not re-indexed at every keystroke: extracting a big file's definitions
would cost more than the rest of a prompt, and its code near the cursor is in the
prompt anyway.
"""

from __future__ import annotations

from aicockpit.context.documents import DocumentStore, TextDocument, uri_to_path
from aicockpit.context.workspace_index import WorkspaceIndex


class OpenDocumentIndex:
    def __init__(self, index: WorkspaceIndex) -> None:
        self._index = index
        self._seen: set[str] = set()  # indexed from the editor's text at least once
        self._pending: dict[str, TextDocument] = {}  # changed since indexed: the current one, mostly

    def changed(self, doc: TextDocument) -> None:
        """``doc`` was opened or edited: index the others that waited, and this one when new to it."""
        for uri, other in list(self._pending.items()):
            if uri != doc.uri:
                del self._pending[uri]
                self._update(other)
        if doc.uri in self._seen:
            self._pending[doc.uri] = doc  # the one being typed in: indexed once the user moves on
            return
        self._seen.add(doc.uri)
        self._update(doc)

    def closed(self, uri: str) -> None:
        self._seen.discard(uri)
        self._pending.pop(uri, None)
        self._index.close_open(uri_to_path(uri))

    def _update(self, doc: TextDocument) -> bool:
        found = self._index.folder_of(doc.path)
        if found is None:
            return False
        index, rel = found
        syntax = doc.syntax
        return index.update_open(rel, doc.version, doc.text, syntax.tree if syntax is not None else None)


def follow(documents: DocumentStore, index: WorkspaceIndex) -> OpenDocumentIndex:
    """An ``OpenDocumentIndex`` that hears every open, change and close of ``documents``."""
    open_index = OpenDocumentIndex(index)
    documents.text_listeners.append(open_index.changed)
    documents.close_listeners.append(open_index.closed)
    return open_index
