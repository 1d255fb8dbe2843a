"""Repository context at the cursor: which code from elsewhere the model should see.

Three sources, each time-boxed, then deduplicated and ranked:

1. definitions of the identifiers used around the cursor (the enclosing function
   and nearby lines), looked up in the index, preferring files the current file
   imports: their signature and a short body excerpt;
2. similar code (Jaccard similarity of identifier sets over sliding windows) in
   open documents;
3. recently edited regions (other documents, or this one outside the prompt's window).

The word being typed at the cursor is never a query term, and similar code is
matched against the lines above the cursor's line, so keystrokes within a line
do not reshuffle the result.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from aicockpit.context import languages
from aicockpit.context.documents import DocumentStore, TextDocument
from aicockpit.context.symbols import Definition
from aicockpit.context.syntax import byte_point
from aicockpit.context.workspace_index import WorkspaceIndex

IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
NEARBY_LINES = 8
REGION_LINES = 60
MAX_NAMES = 32
AMBIGUOUS = 6  # a name defined in more files than this counts only where imported
PER_NAME = 3  # definitions of one name at most
ALWAYS_LOOKED_UP = 4  # names whose definitions are looked up whatever the time box says
CALLED_AT_CURSOR = 3.0  # the call whose arguments the cursor is in
CALL_SCAN = 400  # characters before the cursor searched for that call
WINDOW_LINES = 12
WINDOW_STRIDE = 6
SIMILAR_MIN = 0.2
SIMILAR_TOP = 2
RECENT_TOP = 3
RECENT_RADIUS = 4
SCAN_BEFORE = 16_000  # characters scanned around the cursor at most (a 10 MB one-line file)
SCAN_AFTER = 4_000
MAX_CACHED_LINES = 50_000  # lines whose identifiers are kept (names_near)
LINE_CHARS = 300  # a snippet's lines are clipped to this (minified code)
MAX_DOC_CHARS = 2_000_000  # bigger open documents are not searched for similar code
COMMON = frozenset(
    """self cls this super None True False null undefined true false nil return if else elif for while
    in not and or is def class import from as pass break continue try except finally raise with yield
    lambda async await function const let var new typeof instanceof func package type struct interface
    impl pub fn mut use mod match enum trait where static void int char float double long short unsigned
    signed bool string str len print range list dict set tuple object any auto include define public
    private protected final extends implements throws go defer chan map select case switch default do
    err ctx args kwargs i j k n x y""".split()
)
_FAMILY = {"typescript": "javascript", "tsx": "javascript", "cpp": "c"}


@dataclass(frozen=True)
class ContextSnippet:
    """A piece of code from elsewhere, with why it was chosen (0-based, inclusive lines)."""

    path: str
    start_line: int
    end_line: int
    text: str
    reason: str
    score: float = 0.0

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.path, self.start_line, self.end_line)

    def overlaps(self, other: ContextSnippet) -> bool:
        return (
            self.path == other.path
            and self.start_line <= other.end_line
            and other.start_line <= self.end_line
        )


@dataclass(frozen=True)
class CursorQuery:
    """Where the cursor is, and which lines of its own file the prompt already shows."""

    doc: TextDocument
    rel: str  # the document's display path (workspace-relative when inside one)
    offset: int
    line: int
    window_lines: tuple[int, int]  # first and last line of the prefix/suffix window


def family(language: str | None) -> str | None:
    return _FAMILY.get(language or "", language)


class Retriever:
    def __init__(self, documents: DocumentStore, index: WorkspaceIndex) -> None:
        self._documents = documents
        self._index = index
        self._windows: dict[tuple[str, int], list[tuple[int, frozenset[str]]]] = {}
        self._line_names: dict[str, tuple[tuple[str, int, int], ...]] = {}
        self.cut_short = False

    def candidates(
        self,
        query: CursorQuery,
        budget_s: float,
        definitions: bool = True,
        similar: bool = True,
        recent: bool = True,
    ) -> list[ContextSnippet]:
        """Ranked candidates (best first), before the token budget is applied.

        ``cut_short`` says afterwards whether a source stopped at its time box.
        """
        self.cut_short = False
        started = time.perf_counter()
        found: list[ContextSnippet] = []
        if definitions:
            found += self.definitions(query, started + budget_s * 0.6)
        if similar:
            found += self.similar_code(query, time.perf_counter() + budget_s * 0.3)
        if recent:
            found += self.recent_edits(query)
        shown = self._shown(query)
        # Code the prompt already shows (a copy of this file open twice, a duplicated
        # block) adds nothing but tokens.
        return dedupe([s for s in found if s.text.strip() not in shown])

    @staticmethod
    def _shown(query: CursorQuery) -> str:
        lines = query.doc.lines
        first, last = query.window_lines
        first = min(max(first, 0), lines.line_count - 1)
        last = min(max(last, first), lines.line_count - 1)
        end = lines.starts[last + 1] if last + 1 < lines.line_count else len(query.doc.text)
        return query.doc.text[lines.starts[first] : end]

    # -- 1. definitions ---------------------------------------------------------------------

    def names_near(self, query: CursorQuery) -> list[tuple[str, float]]:
        """Identifiers around the cursor, weighted by closeness; calls weigh more."""
        text, offset = query.doc.text, query.offset
        start, end = self._region(query)
        starts = query.doc.lines.starts
        cursor_line = query.line
        weights: dict[str, float] = {}
        number = bisect_right(starts, start) - 1
        while number < len(starts) and starts[number] < end:
            line_start = starts[number]
            line_end = starts[number + 1] - 1 if number + 1 < len(starts) else len(text)
            if number == cursor_line or line_start < start or line_end > end:
                found = _names_in(text, max(start, line_start), min(end, line_end), offset)
            else:
                found = self._names_in_line(text[line_start:line_end])
            weight = 1.0 / (1.0 + abs(number - cursor_line) / 4.0)
            for name, plain, calls in found:
                weights[name] = weights.get(name, 0.0) + weight * plain + weight * 1.5 * calls
            number += 1
        calling = call_at(text, offset)
        if calling is not None and calling in weights:
            weights[calling] *= CALLED_AT_CURSOR  # its signature is what the model needs next
        ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:MAX_NAMES]

    def _names_in_line(self, line: str) -> tuple[tuple[str, int, int], ...]:
        """A line's names, cached by its text: between keystrokes only the cursor's line
        changes, and scanning the whole region anew (hundreds of identifiers in a long
        function) was a fifth of a prompt build."""
        found = self._line_names.get(line)
        if found is None:
            if len(self._line_names) > MAX_CACHED_LINES:
                self._line_names.clear()
            found = self._line_names[line] = _names_in(line, 0, len(line), -1)
        return found

    def _region(self, query: CursorQuery) -> tuple[int, int]:
        """The enclosing function (bounded), widened to the nearby lines."""
        lines = query.doc.lines
        first = max(0, query.line - NEARBY_LINES)
        last = min(lines.line_count - 1, query.line + NEARBY_LINES)
        syntax = query.doc.syntax
        if syntax is not None:
            spec = syntax.spec
            source_offset, _ = byte_point(query.doc.lines, query.offset)
            node = syntax.tree.root_node.descendant_for_byte_range(source_offset, source_offset)
            outer = None
            while node is not None:
                if node.type in spec.function_types:
                    outer = node
                    break
                node = node.parent
            if outer is not None:
                first = min(first, max(outer.start_point.row, query.line - REGION_LINES))
                last = max(last, min(outer.end_point.row, query.line + REGION_LINES // 3))
        start = lines.starts[first]
        end = lines.starts[last + 1] if last + 1 < lines.line_count else len(query.doc.text)
        return max(start, query.offset - SCAN_BEFORE), min(end, query.offset + SCAN_AFTER)

    def definitions(self, query: CursorQuery, deadline: float) -> list[ContextSnippet]:
        language = family(_language_of(query.doc))
        imported = set(self._index.imports_of(query.doc.path))
        current_dir = query.rel.rsplit("/", 1)[0] if "/" in query.rel else ""
        present: dict[str, bool] = {}
        out: list[ContextSnippet] = []
        for number, (name, weight) in enumerate(self.names_near(query)):
            # The best few names are always looked up: a slow first request (cold caches)
            # or a busy machine must not cost the definitions the model needs most.
            if number >= ALWAYS_LOOKED_UP and time.perf_counter() > deadline:
                self.cut_short = True
                break
            found = self._index.find_definitions(name)
            if not found:
                continue  # most names near the cursor are locals and attributes
            candidates = [c for c in found if family(_language_of_path(c[1].path)) == language]
            in_imports = [c for c in candidates if c[0] in imported]
            if len(candidates) > AMBIGUOUS:
                candidates = in_imports
            # A name defined in many places (a method name) says little about which one is
            # meant: its weight is shared, and it may bring only a few of them.
            spread = max(1, len(candidates)) ** 0.5
            ranked = sorted(candidates, key=lambda c: c[0] not in imported)
            for display, definition in ranked[:PER_NAME]:
                if display == query.rel and _inside(definition, query.window_lines):
                    continue  # already in the prompt
                if display not in present:
                    present[display] = self._still_there(display)
                if not present[display]:
                    continue  # deleted since it was indexed (the watcher has not caught up)
                score = weight * (2.0 if display in imported else 1.0) / spread
                if display.rsplit("/", 1)[0] == current_dir:
                    score *= 1.2
                if display == query.rel:
                    score *= 0.8
                if definition.kind in ("class", "type"):
                    score *= 1.1
                out.append(_definition_snippet(display, definition, score))
        return out

    def _still_there(self, display: str) -> bool:
        """On disk, or open in the editor (a new file not saved yet)."""
        path = self._index.file_of(display)
        return path is not None and (path.exists() or path.as_uri() in self._documents)

    # -- 2. similar code --------------------------------------------------------------------

    def similar_code(self, query: CursorQuery, deadline: float) -> list[ContextSnippet]:
        lines = query.doc.lines
        first = max(0, query.line - WINDOW_LINES)
        above = query.doc.text[lines.starts[first] : lines.starts[query.line]][-SCAN_BEFORE:]
        terms = frozenset(IDENT.findall(above)) - COMMON
        if len(terms) < 3:
            return []
        scored: list[tuple[float, ContextSnippet]] = []
        language = family(_language_of(query.doc))
        for doc in self._documents.all():
            if time.perf_counter() > deadline:
                self.cut_short = True
                break
            if doc.uri == query.doc.uri or family(_language_of(doc)) != language:
                continue
            if len(doc.text) > MAX_DOC_CHARS:
                continue
            display = self._index.display_path(doc.path, doc.uri)
            if display is None:
                continue  # a secret or excluded file never goes into a prompt
            best: tuple[float, int] | None = None
            for start, window in self._windows_of(doc):
                union = len(terms | window)
                score = len(terms & window) / union if union else 0.0
                if best is None or score > best[0]:
                    best = (score, start)
            if best is not None and best[0] >= SIMILAR_MIN:
                start = best[1]
                doc_lines = doc.lines
                end = min(doc_lines.line_count - 1, start + WINDOW_LINES - 1)
                text = clipped(doc_lines.line(i) for i in range(start, end + 1))
                snippet = ContextSnippet(display, start, end, text, "similar code", 0.6 * best[0])
                scored.append((best[0], snippet))
        scored.sort(key=lambda item: (-item[0], item[1].path))
        return [snippet for _, snippet in scored[:SIMILAR_TOP]]

    def _windows_of(self, doc: TextDocument) -> list[tuple[int, frozenset[str]]]:
        key = (doc.uri, doc.version)
        cached = self._windows.get(key)
        if cached is None:
            lines = doc.text.split("\n")
            cached = []
            for start in range(0, max(1, len(lines) - WINDOW_STRIDE), WINDOW_STRIDE):
                chunk = "\n".join(lines[start : start + WINDOW_LINES])
                cached.append((start, frozenset(IDENT.findall(chunk)) - COMMON))
            if len(self._windows) > 64:
                self._windows.clear()
            self._windows[key] = cached
        return cached

    # -- 3. recent edits --------------------------------------------------------------------

    def recent_edits(self, query: CursorQuery) -> list[ContextSnippet]:
        out: list[ContextSnippet] = []
        seen: set[tuple[str, int]] = set()
        now = time.monotonic()
        for uri, line, at in reversed(self._documents.recent_edits):
            if len(out) >= RECENT_TOP:
                break
            first_shown, last_shown = query.window_lines
            if uri == query.doc.uri and first_shown - RECENT_RADIUS <= line <= last_shown + RECENT_RADIUS:
                continue  # already in the prompt (edits elsewhere in this file still count)
            if uri not in self._documents or (uri, line // (2 * RECENT_RADIUS)) in seen:
                continue
            seen.add((uri, line // (2 * RECENT_RADIUS)))
            doc = self._documents.get(uri)
            display = self._index.display_path(doc.path, doc.uri)
            if display is None:
                continue
            lines = doc.lines
            first = max(0, line - RECENT_RADIUS)
            last = min(lines.line_count - 1, line + RECENT_RADIUS)
            text = clipped(lines.line(i) for i in range(first, last + 1))
            if not text.strip():
                continue
            age = now - at
            out.append(ContextSnippet(display, first, last, text, "recent edit", 0.4 / (1.0 + age / 60)))
        return out


def _names_in(text: str, start: int, end: int, cursor: int) -> tuple[tuple[str, int, int], ...]:
    """(name, times used, times called) of the identifiers in ``text[start:end]``.

    The word at ``cursor`` is left out: the one being typed is a moving target.
    """
    counts: dict[str, list[int]] = {}
    for match in IDENT.finditer(text, start, end):
        if match.start() <= cursor <= match.end():
            continue
        name = match.group(0)
        if len(name) < 2 or name in COMMON:
            continue
        uses = counts.setdefault(name, [0, 0])
        uses[text.startswith("(", match.end())] += 1
    return tuple((name, plain, calls) for name, (plain, calls) in counts.items())


def call_at(text: str, offset: int) -> str | None:
    """The name of the call whose open parenthesis encloses the cursor on its line, if any."""
    start = max(text.rfind("\n", 0, offset) + 1, offset - CALL_SCAN)
    depth = 0
    for at in range(offset - 1, start - 1, -1):
        ch = text[at]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                match = _NAME_BEFORE.search(text, start, at)
                return match.group(1) if match else None
            depth -= 1
    return None


_NAME_BEFORE = re.compile(r"([A-Za-z_$][A-Za-z0-9_$]*)\s*$")


def clipped(lines: Iterable[str]) -> str:
    """Lines joined, each cut to LINE_CHARS: one minified line must not become a huge snippet."""
    return "\n".join(line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…" for line in lines)


def _language_of(doc: TextDocument) -> str | None:
    spec = languages.for_document(doc.language_id, doc.uri)
    return spec.name if spec else None


def _language_of_path(path: str) -> str | None:
    spec = languages.for_path(path)
    return spec.name if spec else None


def _inside(definition: Definition, window: tuple[int, int]) -> bool:
    return window[0] <= definition.start_line and definition.end_line <= window[1]


def _definition_snippet(display: str, definition: Definition, score: float) -> ContextSnippet:
    lines = definition.excerpt.count("\n")
    return ContextSnippet(
        display,
        definition.start_line,
        definition.start_line + lines,
        definition.excerpt,
        f"definition of {definition.name}",
        score,
    )


def dedupe(snippets: list[ContextSnippet]) -> list[ContextSnippet]:
    """Best first; a snippet overlapping a better one of the same file is dropped."""
    ranked = sorted(snippets, key=lambda s: (-s.score, s.path, s.start_line))
    kept: list[ContextSnippet] = []
    for snippet in ranked:
        if any(snippet.overlaps(other) for other in kept):
            continue
        kept.append(snippet)
    return kept
