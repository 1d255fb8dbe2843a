"""Computes edits with the model; never against text they were not computed from."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aicockpit.config import EditConfig
from aicockpit.context.documents import DocumentStore, TextDocument
from aicockpit.context.retrieve import ContextSnippet
from aicockpit.edit.diff import LineEdit, line_edits
from aicockpit.edit.targets import enclosing_definition
from aicockpit.engine.base import Engine
from aicockpit.engine.collect import generate_text, texts
from aicockpit.generation import GenerationRequest, Priority
from aicockpit.prompt.chat import Message, count_messages, docstring_messages, edit_messages, extract_code
from aicockpit.prompt.requests import chat_request

# Definitions from other files that the selection uses: looked up by the prompt
# layer's retriever (document, first line, last line), best first.
Related = Callable[[TextDocument, int, int], list[ContextSnippet]]


class StaleDocument(RuntimeError):
    """The document changed since the edit was requested; nothing is applied."""


class NothingToEdit(ValueError):
    pass


class SecretDocument(NothingToEdit):
    """The document is a secrets file: its text is never sent to a model."""


class TooLarge(NothingToEdit):
    """The code to change does not fit the model's context with room for the answer."""


@dataclass
class EditProposal:
    uri: str
    version: int
    label: str
    edits: list[LineEdit]
    old_text: str
    new_text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class EditService:
    def __init__(
        self,
        documents: DocumentStore,
        engine: Callable[[], Engine],
        settings: Callable[[], EditConfig],
        is_secret: Callable[[TextDocument], bool],
        related: Related | None = None,
    ) -> None:
        self._documents = documents
        self._engine = engine
        self._settings = settings
        self._is_secret = is_secret
        self._related = related

    def current(self, uri: str, version: int | None) -> TextDocument:
        doc = self._documents.get(uri)
        if self._is_secret(doc):
            raise SecretDocument(f"{uri.rsplit('/', 1)[-1]} is a secrets file; it is never sent to a model")
        if version is not None and doc.version != version:
            raise StaleDocument(
                f"the document changed since the edit was requested (version {version}, now {doc.version}); "
                "nothing was applied"
            )
        return doc

    async def rewrite(
        self,
        uri: str,
        first: int,
        last: int,
        instruction: str,
        version: int | None,
        *,
        drop_lines: Sequence[int] = (),
        problems: Sequence[str] = (),
        on_delta: Callable[[str], None] | None = None,
    ) -> EditProposal:
        """Rewrite whole lines [first, last] as instructed (``drop_lines`` are removed, not shown)."""
        doc = self.current(uri, version)
        version = doc.version
        config = self._settings()
        lines = doc.text.split("\n")
        first, last = max(0, first), min(last, len(lines) - 1)
        if first > last or not instruction.strip():
            raise NothingToEdit("an edit needs a non-empty range and an instruction")
        old = "\n".join(lines[first : last + 1]) + ("\n" if last + 1 < len(lines) else "")
        code = "\n".join(lines[n] for n in range(first, last + 1) if n not in drop_lines)
        engine = self._engine()
        limit = engine.prompt_format.context_length - config.max_tokens
        definitions = self._related(doc, first, last) if self._related is not None else []
        context = config.context_lines
        # Fit the model's context: fewer definitions first, then fewer surrounding lines.
        while True:
            messages = edit_messages(
                path=uri.rsplit("/", 1)[-1],
                language=doc.language_id,
                code=code,
                instruction=instruction,
                before="\n".join(lines[max(0, first - context) : first]),
                after="\n".join(lines[last + 1 : last + 1 + context]),
                problems=problems,
                definitions=definitions,
            )
            tokens = count_messages(engine.tokenizer, messages)
            if tokens <= limit:
                break
            if definitions:
                definitions = definitions[:-1]
            elif context > 0:
                context //= 2
            else:
                raise TooLarge(
                    f"the selection is too large for the model ({tokens} prompt tokens; "
                    f"{limit} fit with room for the answer): select less"
                )
        generated = await generate_text(
            engine, self._request(engine, messages, config, tokens), texts(on_delta)
        )
        new = reindent(extract_code(generated.text), code)
        self.current(uri, version)  # the user may have typed while we generated
        return EditProposal(
            uri,
            version,
            f"aicockpit: {instruction.strip()[:80]}",
            line_edits(old, new, first),
            old,
            new,
            generated.prompt_tokens,
            generated.completion_tokens,
        )

    async def docstring(
        self, uri: str, line: int, version: int | None, on_delta: Callable[[str], None] | None = None
    ) -> EditProposal:
        """Insert a doc comment for the function or class around ``line``; code stays as it is."""
        doc = self.current(uri, version)
        version = doc.version
        lines = doc.text.split("\n")
        found = enclosing_definition(lines, line)
        if found is None:
            raise NothingToEdit("no function or class around the cursor")
        start, end = found
        config = self._settings()
        engine = self._engine()
        code = "\n".join(lines[start : end + 1])
        messages = docstring_messages(language=doc.language_id, code=code)
        tokens = count_messages(engine.tokenizer, messages)
        generated = await generate_text(
            engine, self._request(engine, messages, config, tokens, 256), texts(on_delta)
        )
        self.current(uri, version)
        insert_at, comment = doc_comment(lines, start, doc.language_id, generated.text)
        edit = LineEdit(insert_at, insert_at, comment)
        return EditProposal(uri, version, "aicockpit: add documentation", [edit], "", comment)

    @staticmethod
    def _request(
        engine: Engine,
        messages: list[Message],
        config: EditConfig,
        tokens: int,
        cap: int | None = None,
    ) -> GenerationRequest:
        room = engine.prompt_format.context_length - tokens
        if room < 16:
            raise TooLarge(f"the code is too large for the model ({tokens} prompt tokens)")
        return chat_request(
            engine,
            messages,
            request_id=f"edit-{uuid.uuid4().hex[:12]}",
            max_tokens=min(cap or config.max_tokens, config.max_tokens, room),
            temperature=config.temperature,
            priority=Priority.EDIT,
        )


def reindent(new: str, original: str) -> str:
    """Small models often drop the block's base indentation; put it back."""
    base = _common_indent(original)
    if base and not _common_indent(new):
        return textwrap.indent(new, base)
    return new


def _common_indent(text: str) -> str:
    indents = [line[: len(line) - len(line.lstrip())] for line in text.split("\n") if line.strip()]
    return min(indents, key=len) if indents else ""


def doc_comment(lines: list[str], start: int, language: str, text: str) -> tuple[int, str]:
    """Where a doc comment for the definition at ``start`` goes, and the comment's lines."""
    body = " ".join(text.replace('"""', "").replace("*/", "").split()) or "TODO: describe."
    wrapped = textwrap.wrap(body, 88) or [body]
    head_indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    if language == "python":
        colon = next(
            (n for n in range(start, min(len(lines), start + 20)) if lines[n].rstrip().endswith(":")), start
        )
        indent = head_indent + "    "
        if len(wrapped) == 1:
            return colon + 1, f'{indent}"""{wrapped[0]}"""\n'
        inner = "".join(f"{indent}{w}\n" for w in wrapped)
        return colon + 1, f'{indent}"""{inner.lstrip()}{indent}"""\n'
    if language in ("rust",):
        return start, "".join(f"{head_indent}/// {w}\n" for w in wrapped)
    if language in ("go",):
        return start, "".join(f"{head_indent}// {w}\n" for w in wrapped)
    inner = "".join(f"{head_indent} * {w}\n" for w in wrapped)
    return start, f"{head_indent}/**\n{inner}{head_indent} */\n"
