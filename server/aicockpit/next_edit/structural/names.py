"""Which binding each occurrence of a name refers to, from a language's name query.

The query (structural/queries/*.scm) marks, with these captures:

- ``@scope``: a node that opens a scope; ``@scope.class``: one whose names the scopes
  nested in it do not see (a Python class body); ``@scope.outside``: a part of a scope
  whose names are looked up around that scope (a parameter's default value);
- ``@definition``: a binding visible in its whole scope (Python's assignments,
  parameters, ``var``); ``@definition.outer``: the same in the scope around its own
  declaration (a function's or class's name); ``@definition.after``: visible only after
  the ``@statement`` of the same match (``let``, ``const``, ``:=``);
  ``@definition.redeclare``: like ``after``, but a name the same scope already declares
  is assigned, not declared again (Go's ``a, err :=``). A definition capture on a
  pattern (``a, (b, c) = ...``) binds the ``@pattern.name`` captures inside it;
- ``@reference``: a use; ``@reference.shorthand``: a use that is also a key (``{name}``);
  ``@ignore``: a name that is never a variable (another object's attribute, a keyword
  argument's name), unless a definition capture names the same node;
- ``@member.definition`` / ``@member.reference``: an attribute of the instance (``self.x``,
  ``this.x``, a method name) inside the ``@member.scope`` (the class) around it;
- ``@import.name``: a name imported from another module.

Occurrences are found by searching the text for the name and classified one by one with
the query restricted to that occurrence's bytes: the cost follows the number of
occurrences, not the size of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

import tree_sitter as ts

MAX_OCCURRENCES = 4_000  # of one name in one document: more, and the finders give up on it


@dataclass(frozen=True)
class Scope:
    start: int
    end: int
    is_class: bool
    is_root: bool

    def contains(self, start: int, end: int) -> bool:
        return self.start <= start and end <= self.end


@dataclass
class Occurrence:
    """One name in the tree, at bytes ``start:end``."""

    start: int
    end: int
    role: str = "other"  # definition | reference | ignore | other
    kind: str = ""  # of a definition: hoisted | outer | after | redeclare
    visible_from: int = 0
    scopes: tuple[Scope, ...] = ()  # enclosing scopes, innermost first
    scope: Scope | None = None  # of a definition: where it binds
    member: str = ""  # definition | reference (an attribute of the instance)
    member_scope: tuple[int, int] | None = None
    imported: bool = False
    shorthand: bool = False
    in_error: bool = False
    parent_range: tuple[int, int] = (0, 0)


# What a definition binds: the variable of its name in a scope, or (``after``) itself,
# by where it is declared.
BindingId = tuple[Literal["scope"], Scope | None] | tuple[Literal["after"], int]
# A definition capture holding a name: (captured node, kind, the match's @statement).
DefinitionRoot = tuple[ts.Node, str, ts.Node | None]


class NameTable:
    """The classified occurrences of names in one tree (built per request: trees change)."""

    def __init__(self, query: ts.Query, tree: ts.Tree, source: bytes) -> None:
        self.query = query
        self.tree = tree
        self.source = source
        self._occurrences: dict[tuple[bytes, tuple[int, int] | None], list[Occurrence] | None] = {}

    # -- classification ----------------------------------------------------------------

    def at(self, start: int, end: int) -> Occurrence | None:
        """The name exactly at bytes ``start:end``, classified; None when no name is there."""
        node = self.tree.root_node.descendant_for_byte_range(start, end)
        if node is None or node.start_byte != start or node.end_byte != end or node.child_count:
            return None
        occurrence = Occurrence(start, end)
        parent = node.parent
        occurrence.parent_range = (parent.start_byte, parent.end_byte) if parent else (0, 0)
        occurrence.in_error = node.is_missing or _inside_error(node)
        cursor = ts.QueryCursor(self.query)
        cursor.set_byte_range(start, end)
        roles: set[str] = set()
        scopes: list[Scope] = []
        outside: list[ts.Node] = []
        classes: list[tuple[int, int]] = []
        roots: list[DefinitionRoot] = []  # pattern roots holding the name
        pattern_name = False
        for _, captures in cursor.matches(self.tree.root_node):
            statements = captures.get("statement")
            statement = statements[0] if statements else None
            for name, nodes in captures.items():
                for captured in nodes:
                    exact = captured.start_byte == start and captured.end_byte == end
                    if name == "scope.outside":
                        if captured.start_byte <= start and end <= captured.end_byte:
                            outside.append(captured)
                    elif name.startswith("scope"):
                        if captured.start_byte <= start and end <= captured.end_byte:
                            root = captured.parent is None
                            scopes.append(
                                Scope(captured.start_byte, captured.end_byte, name == "scope.class", root)
                            )
                    elif name == "member.scope":
                        if captured.start_byte <= start and end <= captured.end_byte:
                            classes.append((captured.start_byte, captured.end_byte))
                    elif name.startswith("definition"):
                        kind = name.partition(".")[2] or "hoisted"
                        if exact or captured.start_byte <= start and end <= captured.end_byte:
                            roots.append((captured, kind, statement))
                    elif exact:
                        if name == "pattern.name":
                            pattern_name = True
                        else:
                            roles.add(name)
        ordered = sorted(set(scopes), key=lambda s: (s.end - s.start, -s.start))
        for part in outside:  # looked up around the innermost scope holding that part
            holder = next((s for s in ordered if s.contains(part.start_byte, part.end_byte)), None)
            ordered = [s for s in ordered if s != holder]
        occurrence.scopes = tuple(ordered)
        definition = self._definition(node, roots, pattern_name)
        if definition is not None:
            captured, kind, statement = definition
            occurrence.role, occurrence.kind = "definition", kind
            anchor = statement if statement is not None else captured
            occurrence.visible_from = anchor.end_byte if kind in ("after", "redeclare") else 0
            occurrence.scope = self._binding_scope(occurrence, kind)
        elif "ignore" in roles:
            occurrence.role = "ignore"
        elif "reference" in roles or "reference.shorthand" in roles:
            occurrence.role = "reference"
            occurrence.shorthand = "reference.shorthand" in roles
        if "member.definition" in roles or "member.reference" in roles:
            occurrence.member = "definition" if "member.definition" in roles else "reference"
            if classes:
                occurrence.member_scope = min(classes, key=lambda c: c[1] - c[0])
        occurrence.imported = "import.name" in roles
        return occurrence

    @staticmethod
    def _definition(node: ts.Node, roots: list[DefinitionRoot], pattern_name: bool) -> DefinitionRoot | None:
        """The innermost definition capture that binds ``node``: itself, or a pattern holding it."""
        best: tuple[int, DefinitionRoot] | None = None
        for captured, kind, statement in roots:
            exact = captured.start_byte == node.start_byte and captured.end_byte == node.end_byte
            if not exact and not pattern_name:
                continue
            size = captured.end_byte - captured.start_byte
            if best is None or size < best[0]:
                best = (size, (captured, kind, statement))
        return best[1] if best else None

    @staticmethod
    def _binding_scope(occurrence: Occurrence, kind: str) -> Scope | None:
        scopes = occurrence.scopes
        if kind == "outer":  # a function's name binds around the function, not in it
            parent = occurrence.parent_range
            scopes = tuple(s for s in scopes if (s.start, s.end) != parent)
        return scopes[0] if scopes else None

    # -- occurrences of a name -----------------------------------------------------------

    def occurrences(self, name: str, within: tuple[int, int] | None = None) -> list[Occurrence] | None:
        """Every classified occurrence of ``name`` in the document, or in its bytes ``within``;
        None past MAX_OCCURRENCES."""
        word = name.encode("utf-8")
        key = (word, within)
        if key in self._occurrences:
            return self._occurrences[key]
        pattern = re.compile(rb"(?<![\w$])" + re.escape(word) + rb"(?![\w$])")
        lo, hi = within or (0, len(self.source))
        found: list[Occurrence] = []
        for number, match in enumerate(pattern.finditer(self.source, lo, hi)):
            if number >= MAX_OCCURRENCES:
                self._occurrences[key] = None
                return None
            occurrence = self.at(match.start(), match.end())
            if occurrence is not None and occurrence.role != "other" or occurrence and occurrence.member:
                found.append(occurrence)
        self._occurrences[key] = found
        return found


def settled(occurrences: list[Occurrence]) -> list[Occurrence]:
    """The occurrences of one name in text order, each ``redeclare`` settled: ``a, err :=``
    assigns ``err`` (a use) when the same scope declared it before, else declares it."""
    out: list[Occurrence] = []
    declared: list[Occurrence] = []
    for occurrence in sorted(occurrences, key=lambda o: o.start):
        if occurrence.role == "definition" and occurrence.kind == "redeclare":
            if any(d.scope == occurrence.scope for d in declared):
                occurrence = replace(occurrence, role="reference", kind="", scope=None)
            else:
                occurrence = replace(occurrence, kind="after")
        if occurrence.role == "definition":
            declared.append(occurrence)
        out.append(occurrence)
    return out


def binding_id(definition: Occurrence) -> BindingId:
    """What a definition binds: the scope's one variable of that name, or (``after``) itself."""
    if definition.kind == "after":
        return ("after", definition.start)
    return ("scope", definition.scope)


def resolve(occurrence: Occurrence, bindings: list[Occurrence]) -> BindingId | None:
    """The binding ``occurrence`` refers to among ``bindings`` (all of its name); None: global."""
    if occurrence.role == "definition":
        return binding_id(occurrence)
    for depth, scope in enumerate(occurrence.scopes):
        if scope.is_class and depth > 0:
            continue
        here = [b for b in bindings if b.scope == scope]
        if not here:
            continue
        visible = [b for b in here if b.kind == "after" and b.visible_from <= occurrence.start]
        if visible:
            return binding_id(max(visible, key=lambda b: b.visible_from))
        if any(b.kind != "after" for b in here):
            return ("scope", scope)
    return None


def _inside_error(node: ts.Node | None) -> bool:
    while node is not None:
        if node.type == "ERROR" or node.is_error:
            return True
        node = node.parent
    return False
