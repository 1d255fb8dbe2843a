"""Incremental syntax trees: after any edit sequence the tree equals a fresh parse."""

from __future__ import annotations

import random

import pytest

from aicockpit.context.documents import DocumentStore, TextChange
from aicockpit.context.languages import LANGUAGES, for_document, grammar
from aicockpit.context.positions import LineIndex, utf16_len, utf16_to_index
from aicockpit.context.syntax import byte_point, point_after

SOURCES = {
    "python": 'def grüße(name):\n    """Say hi 🍵."""\n    return f"Hallo {name}"\n\nclass K:\n    x = 1\n',
    "javascript": "function f(a) {\n  const s = 'ünï 🍵';\n  return a+s;\n}\nclass C { m() { return 1 } }\n",
    "go": 'package main\n\nfunc Grüß(n string) string {\n\treturn "hi " + n // 🍵\n}\n',
    "rust": 'fn größe(x: i32) -> i32 {\n    let s = "🍵";\n    x + 1\n}\nstruct P { a: u8 }\n',
}
ALPHABET = ["x", " ", "\n", "(", ")", "{", "}", ":", "é", "🍵", "def ", "return ", "'", '"', "\t", "ü"]


def nodes(root) -> list[tuple]:
    """Every node with its bytes and points: a tree reused with a wrong edit shows here."""
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        found.append((node.type, node.start_byte, node.end_byte, node.start_point, node.end_point))
        stack.extend(node.children)
    return found


def fresh(language: str, text: str) -> list[tuple]:
    spec = for_document(language, "")
    return nodes(grammar(spec).parser().parse(text.encode("utf-8")).root_node)


@pytest.mark.parametrize("language", sorted(SOURCES))
@pytest.mark.parametrize("seed", range(6))
def test_incremental_tree_equals_a_fresh_parse_after_random_edits(language, seed):
    rng = random.Random(seed)
    store = DocumentStore()
    doc = store.open(f"file:///w/doc-{seed}", language, 1, SOURCES[language])
    assert doc.syntax is not None
    for step in range(40):
        index = LineIndex(doc.text)
        a, b = sorted(rng.randrange(len(doc.text) + 1) for _ in range(2))
        if rng.random() < 0.6:
            b = a  # mostly typing, sometimes replacing a range
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 4)))
        store.change(doc.uri, step + 2, [TextChange(text, index.position(a), index.position(b))])
        if rng.random() < 0.3:  # read the tree only now and then: several edits, one reparse
            assert nodes(doc.syntax.tree.root_node) == fresh(language, doc.text)
    assert nodes(doc.syntax.tree.root_node) == fresh(language, doc.text)
    assert doc.syntax.reparses > 0


def test_the_tree_tracks_byte_offsets_after_non_ascii():
    store = DocumentStore()
    doc = store.open("file:///w/a.py", "python", 1, "s = '🍵'\n")
    end = doc.lines.position(len(doc.text))
    store.change(doc.uri, 2, [TextChange("\ndef later():\n    pass\n", end, end)])
    assert doc.syntax.reparses == 0  # not reparsed until read
    tree = doc.syntax.tree
    func = tree.root_node.children[-1]
    assert func.type == "function_definition"
    assert doc.syntax.source[func.start_byte : func.end_byte].decode().startswith("def later")
    assert doc.syntax.reparses == 1


def test_byte_points_match_the_encoded_text():
    rng = random.Random(3)
    for _ in range(300):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(30)))
        inserted = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(6)))
        offset = rng.randrange(len(text) + 1)

        def reference(t: str, at: int) -> tuple[int, tuple[int, int]]:
            before = t[:at].encode("utf-8")
            return len(before), (before.count(b"\n"), len(before) - (before.rfind(b"\n") + 1))

        start_byte, start = byte_point(LineIndex(text), offset)
        assert (start_byte, tuple(start)) == reference(text, offset)
        end_byte, end = point_after(start_byte, start, inserted)
        new_text = text[:offset] + inserted + text[offset:]
        assert (end_byte, tuple(end)) == reference(new_text, offset + len(inserted)), (text, inserted)


def test_languages_without_grammar_are_plain_text():
    store = DocumentStore()
    assert store.open("file:///w/notes.txt", "plaintext", 1, "hello").syntax is None


def test_every_language_has_a_working_grammar():
    assert all(grammar(spec) is not None for spec in LANGUAGES)


def test_utf16_columns_match_a_reference_on_random_lines():
    rng = random.Random(5)
    for _ in range(3000):
        line = "".join(rng.choice(["a", "é", "🍵", "𝄞", "\t"]) for _ in range(rng.randrange(10)))
        column = rng.randrange(-1, 25)
        units = [len(line[:i].encode("utf-16-le")) // 2 for i in range(len(line) + 1)]
        expected = next((i for i, u in enumerate(units) if u >= column), len(line))
        assert utf16_to_index(line, column) == expected, (line, column)
        assert utf16_len(line) == units[-1]
