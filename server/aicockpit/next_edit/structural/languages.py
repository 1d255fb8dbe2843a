"""The languages the structural finders understand: a query file set and identifier rules each.

The finders are one piece of code for every language; what differs is data: the
tree-sitter queries in ``queries/`` (scopes, bindings, uses, members, imports: the
capture names are explained in names.py), what an identifier may look like, and the
words it may not be.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter as ts

from aicockpit.context.languages import LanguageSpec, grammar

QUERIES = Path(__file__).resolve().parent / "queries"

_ECMA_KEYWORDS = """
    break case catch class const continue debugger default delete do else enum export extends false
    finally for function if import in instanceof new null return super switch this throw true try
    typeof var void while with yield let static await implements interface package private protected
    public
""".split()
_GO_KEYWORDS = """
    break case chan const continue default defer else fallthrough for func go goto if import
    interface map package range return select struct switch type var
""".split()
_RUST_KEYWORDS = """
    as async await break const continue crate dyn else enum extern false fn for if impl in let loop
    match mod move mut pub ref return self Self static struct super trait true type unsafe use where
    while
""".split()


@dataclass(frozen=True)
class StructuralLanguage:
    name: str
    query_files: tuple[str, ...]
    identifier: re.Pattern[str]  # a whole identifier
    word: re.Pattern[str]  # one character of an identifier
    keywords: frozenset[str]
    family: str  # languages whose files import each other (TypeScript and JavaScript)

    def valid_identifier(self, text: str) -> bool:
        return bool(self.identifier.fullmatch(text)) and text not in self.keywords


_PLAIN = re.compile(r"[^\W\d]\w*")
_PLAIN_WORD = re.compile(r"\w")
_ECMA = re.compile(r"[^\W\d]\w*|[$][\w$]*|[^\W\d][\w$]*")
_ECMA_WORD = re.compile(r"[\w$]")

PYTHON = StructuralLanguage(
    "python", ("python.scm",), _PLAIN, _PLAIN_WORD, frozenset(keyword.kwlist), "python"
)
JAVASCRIPT = StructuralLanguage(
    "javascript", ("ecma.scm", "javascript.scm"), _ECMA, _ECMA_WORD, frozenset(_ECMA_KEYWORDS), "ecma"
)
TYPESCRIPT = StructuralLanguage(
    "typescript", ("ecma.scm", "typescript.scm"), _ECMA, _ECMA_WORD, frozenset(_ECMA_KEYWORDS), "ecma"
)
GO = StructuralLanguage("go", ("go.scm",), _PLAIN, _PLAIN_WORD, frozenset(_GO_KEYWORDS), "go")
RUST = StructuralLanguage("rust", ("rust.scm",), _PLAIN, _PLAIN_WORD, frozenset(_RUST_KEYWORDS), "rust")

_BY_SPEC = {"python": PYTHON, "javascript": JAVASCRIPT, "typescript": TYPESCRIPT, "tsx": TYPESCRIPT}
_BY_SPEC |= {"go": GO, "rust": RUST}


def structural_language(spec: LanguageSpec) -> StructuralLanguage | None:
    return _BY_SPEC.get(spec.name)


@cache
def names_query(spec: LanguageSpec) -> ts.Query | None:
    """The compiled name query of ``spec``'s grammar (once per process); None without one."""
    language, loaded = structural_language(spec), grammar(spec)
    if language is None or loaded is None:
        return None
    source = "\n".join((QUERIES / name).read_text(encoding="utf-8") for name in language.query_files)
    return ts.Query(loaded.language, source)
