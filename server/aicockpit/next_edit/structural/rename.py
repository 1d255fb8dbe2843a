"""Rename by typing: the user changed a name where it is bound; its next use with the old name.

A rename is read from the document's change spans (changes.py): a span that turned one
identifier into another. It is a rename when one of the places changed that way is a
binding of the name (a parameter, a variable, a function, class or method name, an
import alias, an attribute assigned on ``self``/``this``). The uses still to rename are
the occurrences of the old name that the old binding would resolve to, by the tree's
scopes (names.py): a shadowing binding, a name in a string or a comment, another
scope's name or another object's attribute is never one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aicockpit.next_edit.structural.changes import Span
from aicockpit.next_edit.structural.languages import StructuralLanguage
from aicockpit.next_edit.structural.names import NameTable, Occurrence, binding_id, resolve, settled

RECENT_SPANS = 24  # how far back in a document's spans a rename is looked for


@dataclass(frozen=True)
class IdentifierChange:
    old: str
    new: str
    start: int  # string offsets of the new name in the current text
    end: int


@dataclass
class Rename:
    """A rename in progress: ``binding`` (now spelled ``new``) was ``old``."""

    old: str
    new: str
    binding: Occurrence
    renamed: list[tuple[int, int]]  # byte ranges already renamed (by the user or by taking suggestions)
    uses: list[Occurrence]  # still to rename
    problem: str = ""  # collision | invalid_identifier | unparsable: nothing is suggested

    @property
    def module_level(self) -> bool:
        scope = self.binding.scope
        return not self.binding.member and scope is not None and scope.is_root


def identifier_change(text: str, span: Span, language: StructuralLanguage) -> IdentifierChange | None:
    """The identifier ``span`` changed, widened to the whole word around it; None if it is not one."""
    if not span.changed or not _wordlike(span.old, language) or not _wordlike(span.new, language):
        return None
    if text[span.start : span.end] != span.new:
        return None
    lo, hi = span.start, span.end
    while lo > 0 and language.word.match(text[lo - 1]):
        lo -= 1
    while hi < len(text) and language.word.match(text[hi]):
        hi += 1
    new = text[lo:hi]
    old = text[lo : span.start] + span.old + text[span.end : hi]
    if not new or not old or new == old or not language.identifier.fullmatch(old):
        return None
    return IdentifierChange(old, new, lo, hi)


def _wordlike(text: str, language: StructuralLanguage) -> bool:
    return all(language.word.match(ch) for ch in text)


def renames(
    text: str, spans: list[Span], language: StructuralLanguage
) -> list[tuple[str, str, list[tuple[int, int]]]]:
    """The (old, new, [string ranges of every place changed so]) identifier changes that the
    newest spans made, newest first."""
    found: dict[tuple[str, str], list[tuple[int, int]]] = {}
    recent: list[tuple[str, str]] = []
    for number, span in enumerate(reversed(spans)):
        change = identifier_change(text, span, language)
        if change is None:
            continue
        key = (change.old, change.new)
        if number < RECENT_SPANS and key not in found:
            recent.append(key)
        found.setdefault(key, []).append((change.start, change.end))
    return [(old, new, found[(old, new)]) for old, new in recent]


def find_rename(
    table: NameTable,
    language: StructuralLanguage,
    old: str,
    new: str,
    renamed: Iterable[tuple[int, int]],
    changed: Iterable[tuple[int, int]] = (),
    reverting: bool = False,
) -> Rename | None:
    """The rename ``old -> new`` whose changed places (byte ranges) include a binding; None if none does.

    ``changed``: the byte ranges of every change span of the document; a use of the new name
    there was made during the rename, not found in the code before it. ``reverting``: the
    document also has ``new -> old`` changes (this rename takes one back): its uses of the
    new name are that rename's leftovers, not names the binding captures.
    """
    renamed = list(renamed)
    if not language.valid_identifier(new):  # `2w`, `class`: no binding of it can even parse
        return Rename(old, new, Occurrence(*renamed[0]), renamed, [], "invalid_identifier")
    sites = [o for start, end in renamed if (o := table.at(start, end)) is not None]
    binding, others, olds = None, [], None
    for site in (o for o in sites if o.role == "definition"):
        # Uses of the binding lie in its scope: the old name is looked for there only.
        olds = table.occurrences(old, _region(site))
        # The binding stands for the old name among the old name's occurrences.
        effective = settled([*(olds or []), site])
        binding = next(o for o in effective if o.start == site.start)
        if binding.role == "definition":
            others = [o for o in effective if o.start != site.start]
            break
        binding = None
    if binding is None:
        binding = next((o for o in sites if o.member == "definition"), None)
        olds = table.occurrences(old, _region(binding)) if binding is not None else None
        others = olds or []
    if binding is None:
        return None
    rename = Rename(old, new, binding, renamed, [])
    if binding.in_error:
        rename.problem = "unparsable"
        return rename
    if olds is None:
        rename.problem = "too_many_uses"
        return rename
    done = set(renamed)
    if binding.member:
        rename.uses = [o for o in others if _same_member(o, binding)]
    else:
        bindings = [o for o in others if o.role == "definition"] + [binding]
        target = binding_id(binding)
        rename.uses = [
            o
            for o in others
            if o.role in ("definition", "reference")
            and (o.start, o.end) not in done
            and resolve(o, bindings) == target
        ]
    rename.uses = [o for o in rename.uses if not o.in_error]
    if rename.uses and collides(table, rename, done, list(changed), reverting):
        rename.problem = "collision"
    return rename


def _same_member(occurrence: Occurrence, binding: Occurrence) -> bool:
    return bool(occurrence.member) and occurrence.member_scope == binding.member_scope


def collides(
    table: NameTable,
    rename: Rename,
    done: set[tuple[int, int]],
    changed: list[tuple[int, int]],
    reverting: bool = False,
) -> bool:
    """Would the new name mean something else somewhere? Another binding of it in the same
    scope (or class), one in a nested scope that would capture a use, or a use of it that
    the renamed binding now captures."""
    news = table.occurrences(rename.new, _region(rename.binding))
    if news is None:
        return True
    binding = rename.binding
    news = settled([o for o in news if (o.start, o.end) != _range(binding)] + [binding])
    others = [o for o in news if (o.start, o.end) not in done and (o.start, o.end) != _range(binding)]
    if binding.member:
        return any(o.member == "definition" and o.member_scope == binding.member_scope for o in others)
    target = binding_id(binding)
    definitions = [o for o in others if o.role == "definition"]
    for other in definitions:
        if other.scope == binding.scope and other.kind != "after":
            return True
        if other.scope is not None and any(other.scope.contains(u.start, u.end) for u in rename.uses):
            if binding.scope is not None and binding.scope.contains(other.scope.start, other.scope.end):
                return True
    if reverting:
        return False
    bindings = definitions + [binding]
    found_before = [o for o in others if not any(s <= o.start and o.end <= e for s, e in changed)]
    return any(o.role == "reference" and resolve(o, bindings) == target for o in found_before)


def _region(occurrence: Occurrence) -> tuple[int, int] | None:
    """The bytes a binding's uses can be in: its scope (its class, for an attribute)."""
    if occurrence.member:
        return occurrence.member_scope
    scope = occurrence.scope
    return (scope.start, scope.end) if scope is not None and not scope.is_root else None


def _range(occurrence: Occurrence) -> tuple[int, int]:
    return occurrence.start, occurrence.end


def next_use(uses: list[Occurrence], cursor: int) -> Occurrence:
    """The first use (of one at least) at or after the cursor (bytes), else the first one above it."""
    ordered = sorted(uses, key=lambda o: o.start)
    return next((o for o in ordered if o.start >= cursor), ordered[0])


def replacement(use: Occurrence, rename: Rename) -> str:
    """What replaces the use: the new name (``{old}`` in an object literal keeps its key)."""
    return f"{rename.old}: {rename.new}" if use.shorthand else rename.new
