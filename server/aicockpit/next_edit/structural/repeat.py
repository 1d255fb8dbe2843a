"""Repeated edit: the same change made at two places; the next place that looks like they did.

Each change (the spans the user made on one line, one after another) is widened to its
site, the smallest syntax node around it, and further up while needed, until the two
sites have the same node type, the same number of tokens before the change and a word
that both share (the anchor). Tokens that differ between the two sites are holes: a
expression that may be anything at the next site. The change is the token
diff of the first site, and it must turn the second site's tokens into exactly what the
user made of them (with the second site's hole values): only then is it a rule. A hole is
any run of tokens with balanced brackets and no `,` or `;` outside them: one expression.
The next site is the first node after the cursor (then from the top) of the same type
whose tokens match the sites' tokens around the holes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter as ts

from aicockpit.context.syntax import node_text
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
class Hole:
    first: tuple[int, int]  # token range at the first site (before its change)
    second: tuple[int, int]  # at the second site
    variadic: bool = False  # may hold several arguments: the change appends to their list


Opcode = tuple[str, int, int, int, int]  # difflib's: (tag, i1, i2, j1, j2)


@dataclass(frozen=True)
class Rule:
    node_type: str
    template: list[str | Hole]  # the first site's tokens before its change, holes in place
    anchor: str  # a word every match has, at ``anchor_index`` of its tokens ...
    anchor_element: int  # ... the template element it is
    ops: list[Opcode]  # first site before -> after
    first: Site


@dataclass(frozen=True)
class RepeatEdit:
    edits: list[tuple[int, int, str]]  # string offsets in the current text
    at: int  # where the next site starts (string offset)


_OPEN, _CLOSE = "([{", ")]}"


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
            if node1 is not None and node2 is not None and _bracketed(node1) and _bracketed(node2):
                # An argument list, a subscript: what it belongs to is part of the change's shape.
                node1, node2 = node1.parent, node2.parent
                continue
            if node1 is None or node2 is None or node1.parent is None or node2.parent is None:
                return None
            if _overlap(node1, node2):
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
        end = start + len(node_text(node))
        if end - start > MAX_SITE_CHARS or not (start <= change.start and change.end <= end):
            return None
        after_text = text[start:end]
        before_text = after_text[: change.start - start] + change.before + after_text[change.end - start :]
        before = tokens(self._pattern, before_text)
        after = tokens(self._pattern, after_text)
        return Site(node, start, before, before_text, after, after_text)

    def _rule(self, site1: Site, site2: Site) -> Rule | None:
        b1, b2 = [t.text for t in site1.before], [t.text for t in site2.before]
        if not b1 or not b2:
            return None
        ops, kept = _ops(site1)
        _, kept2 = _ops(site2)
        if not ops:
            return None
        # A change that leaves a call's arguments alone (one added at their end, the callee
        # changed) does not depend on them: the sites are compared without them, and they
        # are one hole. Two sites rarely show which arguments may differ:
        # ``getattr(self._stream, "read1", None)`` twice says nothing of ``getattr(f, name)``.
        args1, args2 = _arguments(b1, kept), _arguments(b2, kept2)
        if args1 is None or args2 is None:
            args1 = args2 = None
        c1, c2 = _without(b1, args1), _without(b2, args2)

        def first_range(i1: int, i2: int) -> tuple[int, int]:  # c1's indices are b1's, less the arguments
            shift = args1[1] - args1[0] - 1 if args1 is not None else 0
            start, end = (i if args1 is None or i <= args1[0] else i + shift for i in (i1, i2))
            return start, end

        template: list[str | Hole] = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=c1, b=c2, autojunk=False).get_opcodes():
            if tag == "equal":
                for i in range(i1, i2):
                    template.append(
                        Hole(args1, args2, True)
                        if args1 is not None and args2 is not None and i == args1[0]
                        else c1[i]
                    )
                continue
            one, two = c1[i1:i2], c2[j1:j2]
            if not one or not two or not _balanced(one) or not _balanced(two) or _splits(one) or _splits(two):
                return None
            template.append(Hole(first_range(i1, i2), (j1, j2)))
        template = _variadic(template, ops)
        # The anchor is a word the change leaves alone: context, not the change itself.
        anchors, at = [], 0
        for n, element in enumerate(template):
            size = element.first[1] - element.first[0] if isinstance(element, Hole) else 1
            if (
                isinstance(element, str)
                and element not in self._keywords
                and _WORD.fullmatch(element)
                and at in kept
            ):
                anchors.append((len(element), n))
            at += size
        if not anchors:
            return None
        anchor = max(anchors)[1]
        rule = Rule(site1.node.type, template, str(template[anchor]), anchor, ops, site1)
        # The rule must make of the second site exactly what the user made of it.
        made = apply(rule, site2.before_text, site2.before)
        if made is None or [t.text for t in tokens(self._pattern, made)] != [t.text for t in site2.after]:
            return None
        return rule

    def find(self, tree: ts.Tree, offsets: Offsets, rule: Rule, cursor: int, skip: list[tuple[int, int]]
    ) -> RepeatEdit | None:  # fmt: skip
        """The next site (from ``cursor``, string offset) the rule applies to, and its edits."""
        anchor = rule.anchor.encode("utf-8")
        pattern = re.compile(rb"(?<![\w$])" + re.escape(anchor) + rb"(?![\w$])")
        hits = [
            m.start() for _, m in zip(range(MAX_ANCHOR_HITS), pattern.finditer(offsets.source), strict=False)
        ]
        at = offsets.byte(cursor)
        for hit in [h for h in hits if h >= at] + [h for h in hits if h < at]:
            edit = self._match(tree, offsets, rule, hit, hit + len(anchor), skip)
            if edit is not None:
                return edit
        return None

    def _match(
        self, tree: ts.Tree, offsets: Offsets, rule: Rule, start: int, end: int, skip: list[tuple[int, int]]
    ) -> RepeatEdit | None:
        node = tree.root_node.descendant_for_byte_range(start, end)
        while node is not None and node.type != rule.node_type:
            node = node.parent
        if node is None or node.has_error or any(node.start_byte < e and s < node.end_byte for s, e in skip):
            return None
        site_text = node_text(node)
        if len(site_text) > MAX_SITE_CHARS:
            return None
        site_start = offsets.char(node.start_byte)
        found = tokens(self._pattern, site_text)
        for spans in match(rule.template, found):
            if site_start + found[spans[rule.anchor_element][0]].start != offsets.char(start):
                continue
            if _done_already(rule, found, spans):
                continue
            edits = _edits(rule, site_text, found, spans)
            if edits is None:
                continue
            edits = [(site_start + s, site_start + e, t) for s, e, t in edits]
            if not any(_there_already(offsets.text, edit) for edit in edits):
                return RepeatEdit(edits, site_start)
        return None


_WORD = re.compile(r"[^\W\d][\w$]*")


def _there_already(text: str, edit: tuple[int, int, str]) -> bool:
    """Is what an insertion brings (a word, not just a bracket) already beside it? Then the
    site has had the change around it (``list(`` before ``f(x)``) and must not get it twice."""
    start, end, new = edit
    new = new.strip()
    if start != end or not _WORD.search(new):
        return False
    return text[:start].rstrip().endswith(new) or text[end:].lstrip().startswith(new)


def _done_already(rule: Rule, found: list[Token], spans: list[tuple[int, int]]) -> bool:
    """Does a hole hold a word the change brings in (``strict`` of ``, strict=True``)? Then the
    site has had the change already, and the hole swallowed it."""
    first = rule.first
    before = {t.text for t in first.before}
    brought = {
        t.text
        for _, _, _, j1, j2 in rule.ops
        for t in first.after[j1:j2]
        if t.kind == "word" and t.text not in before
    }
    held = (
        found[i].text
        for e, (a, b) in zip(rule.template, spans, strict=True)
        if isinstance(e, Hole)
        for i in range(a, b)
    )
    return any(text in brought for text in held)


def _ops(site: Site) -> tuple[list[Opcode], set[int]]:
    """The token diff of a site's change, and the indices of its tokens the change keeps."""
    before, after = [t.text for t in site.before], [t.text for t in site.after]
    ops = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    kept = {i for tag, i1, i2, _, _ in ops if tag == "equal" for i in range(i1, i2)}
    return [op for op in ops if op[0] != "equal"], kept


_ARGUMENTS = "\0arguments"


def _arguments(texts: list[str], kept: set[int]) -> tuple[int, int] | None:
    """The tokens inside a site's first brackets, when the change keeps them all."""
    depth, start = 0, None
    for index, text in enumerate(texts):
        if text in _OPEN:
            if depth == 0 and start is None:
                start = index + 1
            depth += 1
        elif text in _CLOSE:
            depth -= 1
            if depth == 0 and start is not None:
                inside = range(start, index)
                return (start, index) if inside and all(i in kept for i in inside) else None
    return None


def _without(texts: list[str], arguments: tuple[int, int] | None) -> list[str]:
    if arguments is None:
        return texts
    return [*texts[: arguments[0]], _ARGUMENTS, *texts[arguments[1] :]]


def _variadic(template: list[str | Hole], ops: list[Opcode]) -> list[str | Hole]:
    """A hole just before a closing bracket, where the change appends: it may hold any number
    of arguments (adding one to a call does not depend on how many it had)."""
    appends = {i1 for tag, i1, *_ in ops if tag == "insert"}
    out = list(template)
    for n, element in enumerate(template[:-1]):
        following = template[n + 1]
        if (
            isinstance(element, Hole)
            and isinstance(following, str)
            and following in _CLOSE
            and element.first[1] in appends
        ):
            out[n] = Hole(element.first, element.second, variadic=True)
    return out


def _bracketed(node: ts.Node) -> bool:
    """Is the node a bracketed part of something (``(url)``, ``[0]``), not a whole?"""
    return node.child_count > 0 and node.children[0].type in ("(", "[", "{") and node.parent is not None


def holes(rule: Rule) -> int:
    return sum(isinstance(e, Hole) for e in rule.template)


def _overlap(one: ts.Node, two: ts.Node) -> bool:
    return one.start_byte < two.end_byte and two.start_byte < one.end_byte


def _depths(texts: list[str]) -> Iterator[tuple[str, int]]:
    """(text, bracket depth before it) of each token; the depth after the last one last."""
    depth = 0
    for text in texts:
        yield text, depth
        depth += 1 if text in _OPEN else -1 if text in _CLOSE else 0
    yield "", depth


def _balanced(texts: list[str]) -> bool:
    depths = list(_depths(texts))
    return depths[-1][1] == 0 and all(d >= 0 for _, d in depths)


def _splits(texts: list[str]) -> bool:
    """Does the run hold a `,` or `;` outside brackets?"""
    return any(d == 0 and text in (",", ";") for text, d in _depths(texts))


def match(template: list[str | Hole], found: list[Token]) -> Iterator[list[tuple[int, int]]]:
    """Each way ``found`` matches ``template``: the token range of every template element."""
    spans: list[tuple[int, int]] = []

    def step(element: int, at: int) -> Iterator[list[tuple[int, int]]]:
        if element == len(template):
            if at == len(found):
                yield list(spans)
            return
        want = template[element]
        if isinstance(want, str):
            if at < len(found) and found[at].text == want:
                spans.append((at, at + 1))
                yield from step(element + 1, at + 1)
                spans.pop()
            return
        for end in range(at + 1, len(found) + 1):
            run = [t.text for t in found[at:end]]
            if not _balanced(run):
                continue
            if _splits(run) and not want.variadic:
                break  # a hole is one expression: never two arguments or two statements
            spans.append((at, end))
            yield from step(element + 1, end)
            spans.pop()

    yield from step(0, 0)


def _around(tree: ts.Tree, start: int, end: int) -> ts.Node | None:
    node = tree.root_node.named_descendant_for_byte_range(start, end)
    while node is not None and not (node.start_byte <= start and end <= node.end_byte):
        node = node.parent
    return node


def _positions(rule: Rule, spans: list[tuple[int, int]]) -> dict[int, int]:
    """First-site token index -> this site's token index, at each template element's start and end."""
    where: dict[int, int] = {}
    at = 0
    for element, (start, end) in zip(rule.template, spans, strict=True):
        size = element.first[1] - element.first[0] if isinstance(element, Hole) else 1
        where.setdefault(at, start)
        where[at + size] = end
        at += size
    return where


def _edits(
    rule: Rule, site_text: str, found: list[Token], spans: list[tuple[int, int]]
) -> list[tuple[int, int, str]] | None:
    """The rule's ops at a site whose tokens are ``found`` (offsets in ``site_text``); None when an
    op starts or ends inside a hole.

    An insertion or deletion carries the spacing before its tokens (after them at the
    site's start), as the first site's new text has it.
    """
    where = _positions(rule, spans)
    swaps = _swaps(rule, site_text, found, spans)
    after = rule.first.after
    edits = []
    for tag, i1, i2, j1, j2 in rule.ops:
        if i1 not in where or i2 not in where:
            return None
        a, b = where[i1], where[i2]  # this site's tokens a:b stand for the first site's i1:i2
        if tag == "replace":
            text = _new_text(rule, after[j1].start, after[j2 - 1].end, swaps)
            edits.append((found[a].start, found[b - 1].end, text))
        elif tag == "insert" and a > 0:
            text = _new_text(rule, after[j1 - 1].end, after[j2 - 1].end, swaps)
            edits.append((found[a - 1].end, found[a - 1].end, text))
        elif tag == "insert":
            text = _new_text(rule, after[j1].start, after[j2].start, swaps)
            edits.append((found[0].start, found[0].start, text))
        elif a > 0:  # delete
            edits.append((found[a - 1].end, found[b - 1].end, ""))
        else:
            edits.append((found[0].start, found[b].start if b < len(found) else found[-1].end, ""))
    return edits


def _swaps(
    rule: Rule, site_text: str, found: list[Token], spans: list[tuple[int, int]]
) -> list[tuple[str, str]]:
    """(text at the first site, text at this one) of every hole, longest first."""
    first = rule.first
    swaps = []
    for element, (start, end) in zip(rule.template, spans, strict=True):
        if isinstance(element, Hole):
            i1, i2 = element.first
            one = first.before_text[first.before[i1].start : first.before[i2 - 1].end]
            swaps.append((one, site_text[found[start].start : found[end - 1].end]))
    return sorted(swaps, key=lambda s: -len(s[0]))


def _new_text(rule: Rule, start: int, end: int, swaps: list[tuple[str, str]]) -> str:
    """The first site's new text ``start:end``, as it reads with another site's hole values."""
    text = rule.first.after_text[start:end]
    if not swaps:
        return text
    pattern = re.compile("|".join(_bounded(one) for one, _ in swaps))
    values = dict(swaps)
    return pattern.sub(lambda m: values[m.group()], text)


def _bounded(text: str) -> str:
    """``text`` as a regex that matches it as whole words (``width`` not in ``widths``) ..."""
    escaped = re.escape(text)
    if _WORD.fullmatch(text) and len(text) == 1:
        return rf"(?<![\w$]){escaped}(?![\w$])"
    # ... except that a longer name may be part of a name built from it (`width` -> `set_width`).
    return escaped


def apply(rule: Rule, site_text: str, found: list[Token]) -> str | None:
    """What the rule makes of a site (its text and tokens), or None when it does not match."""
    for spans in match(rule.template, found):
        edits = _edits(rule, site_text, found, spans)
        if edits is None:
            continue
        for start, end, new in sorted(edits, reverse=True):
            site_text = site_text[:start] + new + site_text[end:]
        return site_text
    return None
