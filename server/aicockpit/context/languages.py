"""The languages aicockpit parses with tree-sitter, and what it extracts from each.

Each language names its grammar wheel (the official per-language packages, which
work offline), the file extensions and LSP language ids it covers, a query that
captures definitions (``@definition.<kind>`` with a ``@name``) and one that
captures imports (``@import``). A language without a grammar is plain text.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from functools import cache

import tree_sitter as ts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    module: str  # the grammar wheel's module
    function: str  # its function returning the language pointer
    extensions: tuple[str, ...]
    lsp_ids: tuple[str, ...]
    definitions: str
    imports: str
    comment: str  # line comment marker, for path headers in prompts
    body_types: tuple[str, ...] = ("block",)  # node types of a definition's body
    function_types: tuple[str, ...] = ()  # nodes that enclose the cursor's "function"


PYTHON = LanguageSpec(
    "python",
    "tree_sitter_python",
    "language",
    (".py", ".pyi"),
    ("python",),
    """
    (class_definition name: (identifier) @name) @definition.class
    (function_definition name: (identifier) @name) @definition.function
    (module (expression_statement (assignment left: (identifier) @name) @definition.constant))
    """,
    """
    (import_statement name: (dotted_name) @import)
    (import_statement name: (aliased_import name: (dotted_name) @import))
    (import_from_statement) @import
    """,
    "#",
    ("block",),
    ("function_definition", "class_definition"),
)

_JS_DEFINITIONS = """
    (function_declaration name: (identifier) @name) @definition.function
    (generator_function_declaration name: (identifier) @name) @definition.function
    (method_definition name: (property_identifier) @name) @definition.method
    (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])
        @definition.function
    (program (lexical_declaration (variable_declarator name: (identifier) @name)) @definition.constant)
    (program (export_statement (lexical_declaration (variable_declarator name: (identifier) @name))
        @definition.constant))
"""
_JS_IMPORTS = """
    (import_statement source: (string (string_fragment) @import))
    (export_statement source: (string (string_fragment) @import))
    (call_expression function: (identifier) @_f arguments: (arguments . (string (string_fragment) @import))
        (#eq? @_f "require"))
"""
_JS_BODIES = ("statement_block", "class_body")
_JS_FUNCTIONS = (
    "function_declaration",
    "method_definition",
    "arrow_function",
    "function_expression",
    "class_declaration",
)

JAVASCRIPT = LanguageSpec(
    "javascript",
    "tree_sitter_javascript",
    "language",
    (".js", ".jsx", ".mjs", ".cjs"),
    ("javascript", "javascriptreact"),
    _JS_DEFINITIONS + "(class_declaration name: (identifier) @name) @definition.class",
    _JS_IMPORTS,
    "//",
    _JS_BODIES,
    _JS_FUNCTIONS,
)

_TS_DEFINITIONS = (
    _JS_DEFINITIONS
    + """
    (class_declaration name: (type_identifier) @name) @definition.class
    (abstract_class_declaration name: (type_identifier) @name) @definition.class
    (interface_declaration name: (type_identifier) @name) @definition.type
    (type_alias_declaration name: (type_identifier) @name) @definition.type
    (enum_declaration name: (identifier) @name) @definition.type
    (function_signature name: (identifier) @name) @definition.function
"""
)

TYPESCRIPT = LanguageSpec(
    "typescript",
    "tree_sitter_typescript",
    "language_typescript",
    (".ts", ".mts", ".cts"),
    ("typescript",),
    _TS_DEFINITIONS,
    _JS_IMPORTS,
    "//",
    _JS_BODIES + ("interface_body",),
    _JS_FUNCTIONS,
)
TSX = LanguageSpec(
    "tsx",
    "tree_sitter_typescript",
    "language_tsx",
    (".tsx",),
    ("typescriptreact",),
    _TS_DEFINITIONS,
    _JS_IMPORTS,
    "//",
    _JS_BODIES + ("interface_body",),
    _JS_FUNCTIONS,
)

GO = LanguageSpec(
    "go",
    "tree_sitter_go",
    "language",
    (".go",),
    ("go",),
    """
    (function_declaration name: (identifier) @name) @definition.function
    (method_declaration name: (field_identifier) @name) @definition.method
    (type_declaration (type_spec name: (type_identifier) @name)) @definition.type
    (source_file (const_declaration (const_spec name: (identifier) @name)) @definition.constant)
    (source_file (var_declaration (var_spec name: (identifier) @name)) @definition.constant)
    """,
    "(import_spec path: (interpreted_string_literal) @import)",
    "//",
    ("block", "field_declaration_list", "interface_type"),
    ("function_declaration", "method_declaration", "func_literal"),
)

RUST = LanguageSpec(
    "rust",
    "tree_sitter_rust",
    "language",
    (".rs",),
    ("rust",),
    """
    (function_item name: (identifier) @name) @definition.function
    (function_signature_item name: (identifier) @name) @definition.function
    (struct_item name: (type_identifier) @name) @definition.type
    (enum_item name: (type_identifier) @name) @definition.type
    (trait_item name: (type_identifier) @name) @definition.type
    (type_item name: (type_identifier) @name) @definition.type
    (union_item name: (type_identifier) @name) @definition.type
    (const_item name: (identifier) @name) @definition.constant
    (static_item name: (identifier) @name) @definition.constant
    (macro_definition name: (identifier) @name) @definition.function
    """,
    """
    (use_declaration argument: (_) @import)
    (mod_item name: (identifier) @import !body)
    """,
    "//",
    ("block", "field_declaration_list", "declaration_list", "enum_variant_list"),
    ("function_item", "impl_item", "trait_item", "closure_expression"),
)

JAVA = LanguageSpec(
    "java",
    "tree_sitter_java",
    "language",
    (".java",),
    ("java",),
    """
    (class_declaration name: (identifier) @name) @definition.class
    (record_declaration name: (identifier) @name) @definition.class
    (interface_declaration name: (identifier) @name) @definition.type
    (enum_declaration name: (identifier) @name) @definition.type
    (method_declaration name: (identifier) @name) @definition.method
    (field_declaration (modifiers "static") declarator: (variable_declarator name: (identifier) @name))
        @definition.constant
    """,
    "(import_declaration (scoped_identifier) @import)",
    "//",
    ("block", "class_body", "interface_body", "enum_body", "constructor_body"),
    ("method_declaration", "constructor_declaration", "class_declaration", "lambda_expression"),
)

_C_DEFINITIONS = """
    (function_definition declarator: (function_declarator declarator: (identifier) @name))
        @definition.function
    (function_definition declarator: (pointer_declarator declarator:
        (function_declarator declarator: (identifier) @name))) @definition.function
    (translation_unit (declaration declarator: (function_declarator declarator: (identifier) @name))
        @definition.function)
    (translation_unit (declaration declarator: (pointer_declarator declarator:
        (function_declarator declarator: (identifier) @name))) @definition.function)
    (struct_specifier name: (type_identifier) @name body: (_)) @definition.type
    (enum_specifier name: (type_identifier) @name body: (_)) @definition.type
    (union_specifier name: (type_identifier) @name body: (_)) @definition.type
    (type_definition declarator: (type_identifier) @name) @definition.type
    (preproc_def name: (identifier) @name) @definition.constant
    (preproc_function_def name: (identifier) @name) @definition.function
"""
_C_IMPORTS = "(preproc_include path: (string_literal (string_content) @import))"

C = LanguageSpec(
    "c",
    "tree_sitter_c",
    "language",
    (".c", ".h"),
    ("c",),
    _C_DEFINITIONS,
    _C_IMPORTS,
    "//",
    ("compound_statement", "field_declaration_list", "enumerator_list"),
    ("function_definition",),
)
CPP = LanguageSpec(
    "cpp",
    "tree_sitter_cpp",
    "language",
    (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"),
    ("cpp",),
    _C_DEFINITIONS
    + """
    (class_specifier name: (type_identifier) @name body: (_)) @definition.class
    (function_definition declarator: (function_declarator declarator:
        (qualified_identifier name: (identifier) @name))) @definition.method
    (function_definition declarator: (function_declarator declarator: (field_identifier) @name))
        @definition.method
    (field_declaration declarator: (function_declarator declarator: (field_identifier) @name))
        @definition.method
    """,
    _C_IMPORTS,
    "//",
    ("compound_statement", "field_declaration_list", "enumerator_list"),
    ("function_definition", "class_specifier", "lambda_expression"),
)

LANGUAGES = (PYTHON, JAVASCRIPT, TYPESCRIPT, TSX, GO, RUST, JAVA, C, CPP)
_BY_EXTENSION = {ext: spec for spec in LANGUAGES for ext in spec.extensions}
_BY_LSP_ID = {lsp_id: spec for spec in LANGUAGES for lsp_id in spec.lsp_ids}


def for_path(path: str) -> LanguageSpec | None:
    """The language of a file, by extension; None for plain text."""
    return _BY_EXTENSION.get(os.path.splitext(path)[1].lower())


def for_document(language_id: str, path: str) -> LanguageSpec | None:
    """The language of an open document: the editor's language id, else the extension."""
    return _BY_LSP_ID.get(language_id) or for_path(path)


@dataclass(frozen=True)
class Grammar:
    """A loaded grammar with its compiled queries (built once per process)."""

    spec: LanguageSpec
    language: ts.Language
    definitions: ts.Query
    imports: ts.Query

    def parser(self) -> ts.Parser:
        return ts.Parser(self.language)


@cache
def grammar(spec: LanguageSpec) -> Grammar | None:
    """The grammar for ``spec``, or None when its wheel is missing (plain text then)."""
    try:
        module = importlib.import_module(spec.module)
        language = ts.Language(getattr(module, spec.function)())
        return Grammar(spec, language, ts.Query(language, spec.definitions), ts.Query(language, spec.imports))
    except Exception as err:  # a missing wheel or an incompatible grammar ABI
        log.warning("no tree-sitter grammar for %s (%s): treated as plain text", spec.name, err)
        return None
