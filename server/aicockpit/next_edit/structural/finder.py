"""Structural next edits: a rename's next use, or a repeated edit's next site, without a model.

``StructuralFinder.suggest`` looks, in this order, for: the next use of a name the user
renamed in this document; the next use in this document of a module-level name renamed
in another open document this one imports; the next site of a change the user made at
two places. It reads the document's current tree and its change spans only, so it takes
milliseconds and has nothing to wait for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aicockpit.context.documents import TextDocument
from aicockpit.context.syntax import node_text
from aicockpit.edit.diff import TextEdit, minimal_edits
from aicockpit.next_edit.structural.changes import ChangeLog
from aicockpit.next_edit.structural.languages import StructuralLanguage, names_query, structural_language
from aicockpit.next_edit.structural.names import NameTable, Occurrence, binding_id, resolve, settled
from aicockpit.next_edit.structural.offsets import Offsets
from aicockpit.next_edit.structural.rename import Rename, find_rename, next_use, renames, replacement
from aicockpit.next_edit.structural.repeat import RepeatFinder, Rule, changes, holes

log = logging.getLogger(__name__)

RENAME, REPEAT = "rename", "repeat"
KINDS = (RENAME, REPEAT)


@dataclass(frozen=True)
class StructuralEdit:
    kind: str  # rename | repeat
    edits: list[TextEdit]  # string offsets in the document's current text
    label: str


@dataclass
class Parsed:
    """One document as the finders read it."""

    doc: TextDocument
    language: StructuralLanguage
    table: NameTable
    offsets: Offsets
    comment: str


class StructuralFinder:
    def __init__(self, changes: ChangeLog, imports: Callable[[TextDocument, TextDocument], bool]) -> None:
        self.changes = changes
        self._imports = imports  # does the first document import the second?

    def suggest(
        self, doc: TextDocument, cursor: int, others: Iterable[TextDocument] = ()
    ) -> tuple[StructuralEdit | None, str]:
        """The next edit at or after ``cursor`` (a string offset), and why there is none if so."""
        parsed = parse(doc)
        if parsed is None:
            return None, "no_grammar"
        found, why = self._rename_here(parsed, cursor)
        if found is None and not why:
            found, why = self._rename_from_imports(parsed, cursor, others)
        if found is None and not why:
            found = self._repeat(parsed, cursor)
        return found, why or ("" if found else "none")

    # -- renames -------------------------------------------------------------------------

    def _renames(self, parsed: Parsed) -> Iterable[Rename]:
        text, offsets = parsed.doc.text, parsed.offsets
        spans = self.changes.spans(parsed.doc.uri)
        changed = [(offsets.byte(s.start), offsets.byte(s.end)) for s in spans]
        found = renames(text, spans, parsed.language)
        pairs = {(old, new) for old, new, _ in found}
        for old, new, places in found:
            ranges = [(offsets.byte(start), offsets.byte(end)) for start, end in places]
            reverting = (new, old) in pairs
            rename = find_rename(parsed.table, parsed.language, old, new, ranges, changed, reverting)
            if rename is not None:
                yield rename

    def _rename_here(self, parsed: Parsed, cursor: int) -> tuple[StructuralEdit | None, str]:
        for rename in self._renames(parsed):
            if rename.problem:  # the newest rename decides: nothing, rather than an older one
                return None, f"rename_{rename.problem}"
            if rename.uses:
                return self._rename_edit(parsed, rename, rename.uses, cursor), ""
        return None, ""

    def _rename_from_imports(
        self, parsed: Parsed, cursor: int, others: Iterable[TextDocument]
    ) -> tuple[StructuralEdit | None, str]:
        """A module-level name renamed in another open document: its uses here, through the import."""
        for other in others:
            if other.uri == parsed.doc.uri or not self.changes.spans(other.uri):
                continue
            source = parse(other)
            if source is None or source.language.family != parsed.language.family:
                continue
            for rename in self._renames(source):
                if rename.problem or not rename.module_level or not self._imports(parsed.doc, other):
                    continue
                uses, problem = imported_uses(parsed.table, rename, module_name(other))
                if problem:
                    return None, f"rename_{problem}"
                if uses:
                    return self._rename_edit(parsed, rename, uses, cursor), ""
        return None, ""

    @staticmethod
    def _rename_edit(parsed: Parsed, rename: Rename, uses: list[Occurrence], cursor: int) -> StructuralEdit:
        use = next_use(uses, parsed.offsets.byte(cursor))
        start, end = parsed.offsets.char(use.start), parsed.offsets.char(use.end)
        edits = minimal_edits(parsed.doc.text[start:end], replacement(use, rename), start)
        more = len(uses) - 1
        label = f"rename {rename.old} → {rename.new}" + (f" ({more} more)" if more else "")
        return StructuralEdit(RENAME, edits, label)

    # -- repeated edits -----------------------------------------------------------------

    def _repeat(self, parsed: Parsed, cursor: int) -> StructuralEdit | None:
        doc = parsed.doc
        newest = changes(doc.text, self.changes.spans(doc.uri), 3)
        if len(newest) < 2:
            return None
        finder = RepeatFinder(parsed.comment, parsed.language.keywords)
        tree = parsed.table.tree
        # The newest two changes make the rule; with a third like them, the pair whose sites
        # differ most makes the most general one (two identical sites alone have no holes).
        rule = finder.rule(tree, doc.text, parsed.offsets, newest[1], newest[0])
        if rule is None:
            return None
        for newer in newest[:2] if len(newest) > 2 else ():
            other = finder.rule(tree, doc.text, parsed.offsets, newest[2], newer)
            if other is not None and other.node_type == rule.node_type and holes(other) > holes(rule):
                rule = other
        if renames_a_name(parsed, rule):
            return None
        offsets = parsed.offsets
        skip = [(offsets.byte(c.start), offsets.byte(c.end)) for c in newest]
        found = finder.find(tree, offsets, rule, cursor, skip)
        if found is None:
            return None
        edits = [
            TextEdit(start, end, text) for start, end, text in found.edits if doc.text[start:end] != text
        ]
        if not edits:
            return None
        return StructuralEdit(REPEAT, edits, "repeat the last edit here")


def parse(doc: TextDocument) -> Parsed | None:
    syntax = doc.syntax
    if syntax is None:
        return None
    language, query = structural_language(syntax.spec), names_query(syntax.spec)
    if language is None or query is None:
        return None
    source = syntax.source
    table = NameTable(query, syntax.tree, source)
    return Parsed(doc, language, table, Offsets(doc.text, source), syntax.spec.comment)


def module_name(doc: TextDocument) -> str:
    """How imports name a document's module: its file name without the extension."""
    return doc.uri.rsplit("/", 1)[-1].split(".", 1)[0]


def imported_uses(table: NameTable, rename: Rename, module: str) -> tuple[list[Occurrence], str]:
    """The places in another document that name ``rename.old`` through an import of it from
    ``module``: the imported name itself and, unless imported under an alias, its uses."""
    olds = table.occurrences(rename.old)
    if olds is None:
        return [], "too_many_uses"
    if not any(o.imported for o in olds):
        return [], ""
    news = table.occurrences(rename.new) or []
    if any(o.role == "definition" and o.scope is not None and o.scope.is_root for o in news):
        return [], "collision"
    olds = settled(olds)
    imported = [o for o in olds if o.imported and _statement_names(table, o, module)]
    bindings = [o for o in olds if o.role == "definition"]
    targets = {binding_id(o) for o in imported if o.role == "definition"}
    uses = [o for o in olds if o in imported or (o.role == "reference" and resolve(o, bindings) in targets)]
    return [o for o in uses if not o.in_error], ""


def _statement_names(table: NameTable, occurrence: Occurrence, module: str) -> bool:
    """Does the top-level statement holding ``occurrence`` (the import) name ``module``?"""
    node = table.tree.root_node.descendant_for_byte_range(occurrence.start, occurrence.end)
    while node is not None and node.parent is not None and node.parent.parent is not None:
        node = node.parent
    text = node_text(node) if node is not None else ""
    return re.search(rf"(?<![\w$]){re.escape(module)}(?![\w$])", text) is not None


def renames_a_name(parsed: Parsed, rule: Rule) -> bool:
    """One variable or instance attribute renamed at two places is a rename: the rename
    finder's business, by scopes. Generalised as a pattern, it would rename another scope's
    variable or another class's attribute of the same name. (Another object's attribute,
    ``log.info`` -> ``log.debug``, is a pattern.)"""
    if len(rule.ops) != 1 or rule.ops[0][0] != "replace":
        return False
    _, i1, i2, j1, j2 = rule.ops[0]
    first = rule.first
    if i2 - i1 != 1 or j2 - j1 != 1 or first.before[i1].kind != "word":
        return False
    token = first.after[j1]
    start = parsed.offsets.byte(first.start + token.start)
    occurrence = parsed.table.at(start, start + len(token.text.encode("utf-8")))
    return occurrence is None or occurrence.role in ("definition", "reference") or bool(occurrence.member)
