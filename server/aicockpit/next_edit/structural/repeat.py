"""Repeated edit: the same change made at two places; the next place that looks like they did.

Each change (the spans the user made on one line, one after another) is widened to its
site, the smallest syntax node around it, and further up while needed, until the two
sites have the same node type, the same number of tokens before the change and a word
that both share (the anchor). Tokens that differ between the two sites are holes: a
name, number or string that may be anything at the next site. The change is the token
diff of the first site, and it must turn the second site's tokens into exactly what the
user made of them (with the second site's hole values): only then is it a rule. The next
site is the first node after the cursor (then from the top) of the same type whose
tokens match the sites' tokens around the holes.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import tree_sitter as ts

from aicockpit.next_edit.structural.changes import Span, _original
from aicockpit.next_edit.structural.offsets import Offsets

MAX_LEVELS = 5  # how far a site may widen above the smallest node around the change
MAX_SITE_CHARS = 400
MAX_ANCHOR_HITS = 2_000  # places the anchor word is looked at, per request

_TOKEN = r"""
    (?P<string>(?:[rbfuRBFU]{1,2})?(?:"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`))
  | (?P<number>\d[\w.]*)
  | (?P<word>[^\W\d][\w$]*|\$[\w$]*)
  | (?P<comment>COMMENT[^\n]*)
  | (?P<punct>[^\s\w])
"""


@dataclass(frozen=True)
class Token:
    text: str
    kind: str
    start: int  # string offsets in the text it was read from
    end: int


def tokenizer(comment: str) -> re.Pattern[str]:
    return re.compile(_TOKEN.replace("COMMENT", re.escape(comment)), re.X)


def tokens(pattern: re.Pattern[str], text: str) -> list[Token]:
    return [Token(m.group(), m.lastgroup or "punct", m.start(), m.end()) for m in pattern.finditer(text)]


@dataclass(frozen=True)
class Change:
    """What the user did on one line: ``before`` became ``after`` at ``start`` (string offsets)."""

    start: int
    end: int  # of ``after`` in the current text
    before: str


def changes(text: str, spans: list[Span], limit: int = 2) -> list[Change]:
    """The newest ``limit`` changes, newest first: runs of spans made one after another on one line."""
    found: list[Change] = []
    group: list[Span] = []

    def close() -> None:
        if group:
            lo, hi = min(s.start for s in group), max(s.end for s in group)
            found.append(Change(lo, hi, _original(text, lo, hi, group)))

    line = None
    for span in reversed(spans):
        span_line = text.count("\n", 0, span.start)
        if group and span_line != line:
            close()
            group = []
            if len(found) == limit:
                break
        group.append(span)
        line = span_line
    else:
        close()
    return found[:limit]


@dataclass
class Site:
    node: ts.Node
    start: int  # string offset of the node
    before: list[Token]  # the node's tokens before the change (offsets in ``before_text``)
    before_text: str
    after: list[Token]
    after_text: str


@dataclass(frozen=True)
class Rule:
    node_type: str
    before: list[str]  # token texts of the first site before its change
    kinds: list[str]
    holes: dict[int, tuple[str, str]]  # token index -> its value at the first and second site
    anchor: int  # index of a word token every match shares
    ops: list[tuple[str, int, int, int, int]]  # difflib opcodes, first site before -> after
    first: Site


@dataclass(frozen=True)
class RepeatEdit:
    edits: list[tuple[int, int, str]]  # string offsets in the current text
    at: int  # where the next site starts (string offset)


class RepeatFinder:
    def __init__(self, comment: str, keywords: frozenset[str]) -> None:
        self._pattern = tokenizer(comment)
        self._keywords = keywords

    def rule(self, tree: ts.Tree, text: str, offsets: Offsets, first: Change, second: Change) -> Rule | None:
        """The rule two changes make (``first`` the older), or None when they are not the same change."""
        if first.start < second.end and second.start < first.end:
            return None
        node1 = _around(tree, offsets.byte(first.start), offsets.byte(first.end))
        node2 = _around(tree, offsets.byte(second.start), offsets.byte(second.end))
        for _ in range(MAX_LEVELS):
            if node1 is None or node2 is None or node1.parent is None or node2.parent is None:
                return None
            if node1.start_byte <= node2.start_byte < node1.end_byte or node2.start_byte <= node1.start_byte < node2.end_byte:
                return None  # one site holds the other: not two places
            if node1.type == node2.type:
                site1 = self._site(text, offsets, node1, first)
                site2 = self._site(text, offsets, node2, second)
                if site1 is None or site2 is None:
                    return None
                rule = self._rule(site1, site2)
                if rule is not None:
                    return rule
            node1, node2 = node1.parent, node2.parent
        return None

    def _site(self, text: str, offsets: Offsets, node: ts.Node, change: Change) -> Site | None:
        start = offsets.char(node.start_byte)
        end = start + len(node.text.decode("utf-8", "replace"))
        if end - start > MAX_SITE_CHARS or not (start <= change.start and change.end <= end):
            return None
        after_text = text[start:end]
        before_text = after_text[: change.start - start] + change.before + after_text[change.end - start :]
        before = tokens(self._pattern, before_text)
        after = tokens(self._pattern, after_text)
        return Site(node, start, before, before_text, after, after_text)

    def _rule(self, site1: Site, site2: Site) -> Rule | None:
        b1, b2 = [t.text for t in site1.before], [t.text for t in site2.before]
        if len(b1) != len(b2) or not b1:
            return None
        holes = {}
        for index, (one, two) in enumerate(zip(site1.before, site2.before, strict=True)):
            if one.text != two.text:
                if one.kind != two.kind or one.kind not in ("word", "number", "string"):
                    return None
                holes[index] = (one.text, two.text)
        anchors = [
            i for i, t in enumerate(site1.before)
            if t.kind == "word" and i not in holes and t.text not in self._keywords
        ]  # fmt: skip
        if not anchors:
            return None
        ops = [op for op in difflib.SequenceMatcher(a=b1, b=[t.text for t in site1.after], autojunk=False).get_opcodes()]
        ops = [op for op in ops if op[0] != "equal"]
        if not ops:
            return None
        anchor = max(anchors, key=lambda i: len(b1[i]))
        rule = Rule(site1.node.type, b1, [t.kind for t in site1.before], holes, anchor, ops, site1)
        # The rule must make of the second site exactly what the user made of it.
        values = {i: two for i, (_, two) in holes.items()}
        made = _apply_text(rule, site2.before_text, site2.before, values)
        if made is None or [t.text for t in tokens(self._pattern, made)] != [t.text for t in site2.after]:
            return None
        return rule

    def find(self, tree: ts.Tree, offsets: Offsets, rule: Rule, cursor: int, skip: list[tuple[int, int]]
    ) -> RepeatEdit | None:
        """The next site (from ``cursor``, string offset) the rule applies to, and its edits."""
        anchor = rule.before[rule.anchor].encode("utf-8")
        pattern = re.compile(rb"(?<![\w$])" + re.escape(anchor) + rb"(?![\w$])")
        hits = [m.start() for _, m in zip(range(MAX_ANCHOR_HITS), pattern.finditer(offsets.source), strict=False)]
        at = offsets.byte(cursor)
        ordered = [h for h in hits if h >= at] + [h for h in hits if h < at]
        for hit in ordered:
            found = self._match(tree, offsets, rule, hit, hit + len(anchor), skip)
            if found is not None:
                return found
        return None

    def _match(self, tree: ts.Tree, offsets: Offsets, rule: Rule, start: int, end: int, skip) -> RepeatEdit | None:
        node = tree.root_node.descendant_for_byte_range(start, end)
        for _ in range(MAX_LEVELS + 2):
            if node is None:
                return None
            if node.type == rule.node_type:
                break
            node = node.parent
        else:
            return None
        if node.has_error or any(node.start_byte < e and s < node.end_byte for s, e in skip):
            return None
        site_start = offsets.char(node.start_byte)
        site_text = node.text.decode("utf-8", "replace")
        if len(site_text) > MAX_SITE_CHARS:
            return None
        found = tokens(self._pattern, site_text)
        if len(found) != len(rule.before) or site_start + found[rule.anchor].start != offsets.char(start):
            return None
        values = {}
        for index, (token, want, kind) in enumerate(zip(found, rule.before, rule.kinds, strict=True)):
            if index in rule.holes:
                if token.kind != kind:
                    return None
                values[index] = token.text
            elif token.text != want:
                return None
        edits = _edits(rule, found, values)
        return RepeatEdit([(site_start + s, site_start + e, t) for s, e, t in edits], site_start)


def _around(tree: ts.Tree, start: int, end: int) -> ts.Node | None:
    node = tree.root_node.named_descendant_for_byte_range(start, end)
    while node is not None and not (node.start_byte <= start and end <= node.end_byte):
        node = node.parent
    return node


def _substitute(token: str, holes: dict[int, tuple[str, str]], values: dict[int, str]) -> str:
    """A token of the first site's new text, at another site: its hole values swapped in."""
    for index, (first, _) in holes.items():
        if token == first:
            return values[index]
    for index, (first, _) in holes.items():
        if len(first) > 1 and first in token:  # a name built from a hole's name (`width` -> `set_width`)
            return token.replace(first, values[index])
    return token


def _new_text(rule: Rule, start: int, end: int, j1: int, j2: int, values: dict[int, str]) -> str:
    """The first site's new text ``start:end`` (after-tokens ``j1:j2`` and the spacing around
    them), as it reads at a site whose hole values are ``values``."""
    after, text = rule.first.after, rule.first.after_text
    parts, at = [], start
    for token in after[j1:j2]:
        parts.append(text[at : token.start])
        parts.append(_substitute(token.text, rule.holes, values))
        at = token.end
    parts.append(text[at:end])
    return "".join(parts)


def _edits(rule: Rule, found: list[Token], values: dict[int, str]) -> list[tuple[int, int, str]]:
    """The rule's ops at a site whose tokens are ``found`` (offsets relative to the site).

    An insertion or deletion carries the spacing before its tokens (after them at the
    site's start), as the first site's new text has it.
    """
    after = rule.first.after
    edits = []
    for tag, i1, i2, j1, j2 in rule.ops:
        if tag == "replace":
            text = _new_text(rule, after[j1].start, after[j2 - 1].end, j1, j2, values)
            edits.append((found[i1].start, found[i2 - 1].end, text))
        elif tag == "insert" and i1 > 0:
            text = _new_text(rule, after[j1 - 1].end, after[j2 - 1].end, j1, j2, values)
            edits.append((found[i1 - 1].end, found[i1 - 1].end, text))
        elif tag == "insert":
            text = _new_text(rule, after[j1].start, after[j2].start, j1, j2, values)
            edits.append((found[0].start, found[0].start, text))
        elif i1 > 0:  # delete
            edits.append((found[i1 - 1].end, found[i2 - 1].end, ""))
        else:
            edits.append((found[0].start, found[i2].start if i2 < len(found) else found[-1].end, ""))
    return edits


def _apply_text(rule: Rule, site_text: str, found: list[Token], values: dict[int, str]) -> str | None:
    for start, end, new in sorted(_edits(rule, found, values), reverse=True):
        site_text = site_text[:start] + new + site_text[end:]
    return site_text
