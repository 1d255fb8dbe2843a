"""Definitions and imports of one file, read from its syntax tree.

Used by the project index (files on disk) and for open documents (the editor's
text). A definition carries what retrieval puts in a prompt: its signature, the
first line of its docstring, and a short excerpt of its body.
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter as ts

from aicockpit.context.languages import Grammar
from aicockpit.context.syntax import node_text

EXCERPT_LINES = 12
EXCERPT_CHARS = 700
SIGNATURE_CHARS = 240
CLASS_MEMBERS = 12


@dataclass(frozen=True, slots=True)
class Definition:
    """A function, class, method, constant or type defined in a file (0-based lines)."""

    path: str  # workspace-relative, "/" separated
    name: str
    kind: str
    signature: str
    doc: str
    start_line: int
    end_line: int
    excerpt: str


@dataclass(frozen=True, slots=True)
class FileSymbols:
    definitions: list[Definition]
    imports: list[str]  # import texts as written (module paths, include paths)


def extract(grammar: Grammar, source: bytes, path: str, tree: ts.Tree | None = None) -> FileSymbols:
    tree = tree or grammar.parser().parse(source)
    root = tree.root_node
    spec = grammar.spec
    found: dict[tuple[int, str], tuple[ts.Node, str]] = {}
    for _, captures in ts.QueryCursor(grammar.definitions).matches(root):
        names = captures.get("name")
        if not names:
            continue
        for key, nodes in captures.items():
            if key.startswith("definition."):
                node = nodes[0]
                kind = key.split(".", 1)[1]
                found.setdefault((node.start_byte, node_text(names[0])), (node, kind))
    definitions: list[Definition] = []
    lines = source.split(b"\n")
    for (_, name), (node, kind) in sorted(found.items(), key=lambda item: item[0][0]):
        if kind == "function" and _inside_class(node):
            kind = "method"
        signature = _signature(node, source, spec.body_types)
        doc = _docstring(node, source, spec.name)
        start, end = node.start_point.row, node.end_point.row
        excerpt = _excerpt(lines, start, end)
        definitions.append(Definition(path, name, kind, signature, doc, start, end, excerpt))
    _summarise_classes(definitions, lines)
    imports: list[str] = []
    for _, captures in ts.QueryCursor(grammar.imports).matches(root):
        for node in captures.get("import", ()):
            imports.append(node_text(node))
    return FileSymbols(definitions, imports)


_CLASS_TYPES = {"class_definition", "class_declaration", "class_body", "impl_item", "class_specifier"}


def _inside_class(node: ts.Node) -> bool:
    parent = node.parent
    for _ in range(3):  # def -> block -> class (decorated: one more)
        if parent is None:
            return False
        if parent.type in _CLASS_TYPES:
            return True
        parent = parent.parent
    return False


def _signature(node: ts.Node, source: bytes, body_types: tuple[str, ...]) -> str:
    body = node.child_by_field_name("body")
    if body is None:
        body = next((c for c in node.children if c.type in body_types), None)
    end = body.start_byte if body is not None else node.end_byte
    end = min(end, node.start_byte + SIGNATURE_CHARS * 4)  # bytes: never decode a huge node
    text = source[node.start_byte : end].decode("utf-8", "replace")
    if body is None:
        text = text.split("\n", 1)[0]
    text = " ".join(text.split())
    return text[:SIGNATURE_CHARS]


def _docstring(node: ts.Node, source: bytes, language: str) -> str:
    if language == "python":
        body = node.child_by_field_name("body")
        first = body.named_children[0] if body is not None and body.named_children else None
        if first is not None and first.type == "expression_statement" and first.named_children:
            literal = first.named_children[0]
            if literal.type == "string":
                parts = [c.text or b"" for c in literal.children if c.type == "string_content"]
                return _first_line(b"".join(parts).decode("utf-8", "replace"))
        return ""
    comment = node.prev_named_sibling
    adjacent = comment is not None and comment.end_point.row >= node.start_point.row - 1
    if comment is not None and adjacent and comment.type == "comment":
        text = node_text(comment)
        return _first_line(text.lstrip("/*!# ").replace("*/", ""))
    return ""


def _first_line(text: str) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("*").strip()
        if line:
            return line[:200]
    return ""


def _excerpt(lines: list[bytes], start: int, end: int) -> str:
    chunk = [line[:EXCERPT_CHARS] for line in lines[start : min(end + 1, start + EXCERPT_LINES)]]
    text = b"\n".join(chunk).decode("utf-8", "replace")
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS].rsplit("\n", 1)[0]
    return text


def _summarise_classes(definitions: list[Definition], lines: list[bytes]) -> None:
    """A class's excerpt: its header lines, then its members' signatures, not its bodies."""
    for i, cls in enumerate(definitions):
        if cls.kind not in ("class", "type") or cls.end_line - cls.start_line < EXCERPT_LINES:
            continue
        members = [
            d
            for d in definitions[i + 1 :]
            if d.start_line > cls.start_line and d.end_line <= cls.end_line and d.kind == "method"
        ][:CLASS_MEMBERS]
        if not members:
            continue
        head_end = min(members[0].start_line, cls.start_line + 4)
        head = [line[:EXCERPT_CHARS].decode("utf-8", "replace") for line in lines[cls.start_line : head_end]]
        for member in members:
            line = lines[member.start_line][:EXCERPT_CHARS].decode("utf-8", "replace")
            indent = line[: len(line) - len(line.lstrip())]
            head.append(f"{indent}{member.signature}")
        text = "\n".join(head)[: EXCERPT_CHARS * 2]
        definitions[i] = Definition(
            cls.path, cls.name, cls.kind, cls.signature, cls.doc, cls.start_line, cls.end_line, text
        )
