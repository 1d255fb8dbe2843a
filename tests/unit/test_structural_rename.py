"""Rename by typing, without a model: the next use of the old name, by the tree's scopes, in
each language the finders know (one set of queries per language, one finder)."""

from __future__ import annotations

import re

import pytest

from aicockpit.next_edit.structural.changes import ChangeLog
from tests.unit.structural_editor import Typist

PYTHON_TRAPS = '''\
def scale(value, factor):
    """Scale value by factor."""  # value in a string and a comment stays
    if value is None:
        return None
    other.value = factor
    call(value=value)
    label = f"{value}!"
    pairs = [(value, v) for v in range(3)]
    squares = [value * value for value in range(3)]

    def inner(value):
        return value * 2

    class Box:
        value = 1

        def get(self):
            return value

    return value * factor, inner(value), lambda value: value


def unrelated(value):
    return value
'''
PYTHON_RENAMED = '''\
def scale(amount, factor):
    """Scale value by factor."""  # value in a string and a comment stays
    if amount is None:
        return None
    other.value = factor
    call(value=amount)
    label = f"{amount}!"
    pairs = [(amount, v) for v in range(3)]
    squares = [value * value for value in range(3)]

    def inner(value):
        return value * 2

    class Box:
        value = 1

        def get(self):
            return amount

    return amount * factor, inner(amount), lambda value: value


def unrelated(value):
    return value
'''

GO = """\
package main

func area(width int, height int) int {
\tw2 := width * 2
\tif width > 0 {
\t\twidth := 3
\t\treturn width
\t}
\tp := Point{width: 1}
\treturn width*height + p.width + w2
}
"""
GO_RENAMED = GO.replace("(width int", "(size int").replace("w2 := width", "w2 := size")
GO_RENAMED = GO_RENAMED.replace("if width >", "if size >").replace("return width*", "return size*")
RUST = """\
fn area(width: i32, height: i32) -> i32 {
    let w2 = width * 2;
    println!("{} width", width);
    match o { Some(width) => width, None => width };
    let width = width + 1;
    width * height
}
"""
RUST_RENAMED = RUST.replace("(width:", "(size:").replace("= width * 2", "= size * 2")
RUST_RENAMED = RUST_RENAMED.replace('width", width)', 'width", size)')
RUST_RENAMED = RUST_RENAMED.replace("None => width", "None => size")
RUST_RENAMED = RUST_RENAMED.replace("let width = width + 1", "let width = size + 1")

CASES = {
    "python": ("python", PYTHON_TRAPS, "value", "amount", PYTHON_RENAMED),
    "javascript": (
        "javascript",
        "function area(width, height) {\n  const { a } = width;\n  const o = { width, height };\n"
        "  if (width > 0) { let width = 3; return width; }\n  return width * height + this.width;\n}\n",
        "width",
        "size",
        "function area(size, height) {\n  const { a } = size;\n  const o = { width: size, height };\n"
        "  if (size > 0) { let width = 3; return width; }\n  return size * height + this.width;\n}\n",
    ),
    "typescript": (
        "typescript",
        "function area(width: number, height: number): number {\n  const w2: number = width * 2;\n"
        "  const f = (width: number) => width;\n  return width * height + obj.width;\n}\n",
        "width",
        "size",
        "function area(size: number, height: number): number {\n  const w2: number = size * 2;\n"
        "  const f = (width: number) => width;\n  return size * height + obj.width;\n}\n",
    ),
    "go": ("go", GO, "width", "size", GO_RENAMED),
    "rust": ("rust", RUST, "width", "size", RUST_RENAMED),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_renamed_parameter_is_renamed_at_each_use_and_nowhere_else(case):
    language, source, old, new, expected = CASES[case]
    typist = Typist(source, language)
    cursor = typist.retype(old, new)
    taken, why = typist.take_all(cursor)
    assert typist.text == expected
    assert why == "none" and {t.kind for t in taken} == {"rename"}
    assert taken[0].label.startswith(f"rename {old} → {new}")


def test_the_next_use_is_the_first_after_the_cursor_then_the_first_above_it():
    typist = Typist("def f(a):\n    x = a\n    y = a\n    return a\n")
    typist.retype("a", "b")
    below, _ = typist.suggest(typist.find("y = a"))
    assert typist.text[: below.edits[0].start].count("\n") == 2  # y = a
    above, _ = typist.suggest(len(typist.text))  # nothing after the cursor: from the top
    assert typist.text[: above.edits[0].start].count("\n") == 1
    assert below.label == "rename a → b (2 more)"


def test_an_attribute_of_self_is_renamed_in_its_class_only():
    source = (
        "class Counter:\n    def __init__(self):\n        self.count = 0\n        other.count = 5\n\n"
        "    def inc(self):\n        self.count += 1\n        return self.count\n\n\n"
        "class Other:\n    def get(self):\n        return self.count\n"
    )
    typist = Typist(source)
    taken, _ = typist.take_all(typist.retype("count", "total"))
    assert len(taken) == 2
    assert typist.text == source.replace("self.count", "self.total", 3)


def test_a_method_renamed_is_renamed_where_self_calls_it():
    source = "class A:\n    def compute(self):\n        return 1\n\n    def run(self):\n"
    source += "        return self.compute() + b.compute()\n"
    typist = Typist(source)
    typist.take_all(typist.retype("compute", "calc"))
    assert typist.text == source.replace("def compute", "def calc").replace("self.compute", "self.calc")


def test_a_go_short_declaration_of_a_declared_name_assigns_it():
    source = "package p\n\nfunc f() error {\n\ta, err := g()\n\tb, err := h(a)\n\treturn use(b, err)\n}\n"
    typist = Typist(source, "go")
    typist.take_all(typist.retype("err", "failure"))
    assert typist.text == re.sub(r"\berr\b", "failure", source)


def test_a_rust_let_shadows_from_its_statement_on():
    source = "fn f(s: &str) -> usize {\n    let n = s.len();\n    let n = n * 2;\n    n + 1\n}\n"
    typist = Typist(source, "rust")
    typist.take_all(typist.retype("n", "count"))  # the first `let n`
    assert typist.text == source.replace("let n = s", "let count = s").replace("n * 2", "count * 2")


def test_a_typescript_class_is_renamed_in_type_annotations_too():
    source = "class Point { x = 0 }\nfunction f(p: Point): Point {\n  return new Point();\n}\n"
    typist = Typist(source, "typescript")
    typist.take_all(typist.retype("Point", "Vec"))
    assert typist.text == source.replace("Point", "Vec")


@pytest.mark.parametrize(
    ("new", "why"),
    [
        ("2w", "rename_invalid_identifier"),
        ("def", "rename_invalid_identifier"),
        ("height", "rename_collision"),
    ],
)
def test_an_invalid_or_taken_name_gets_nothing_and_says_why(new, why):
    typist = Typist("def area(width, height):\n    return width * height\n")
    assert typist.suggest(typist.retype("width", new)) == (None, why)


def test_a_name_a_nested_scope_binds_would_capture_the_use():
    source = "def f(a):\n    def g(b):\n        return a + b\n    return g\n"
    typist = Typist(source)
    assert typist.suggest(typist.retype("a", "b")) == (None, "rename_collision")


def test_an_unparsable_binding_gets_nothing():
    typist = Typist("def area(width, height:\n    return width * (height\n")
    found, why = typist.suggest(typist.retype("width", "w"))
    assert found is None and why in ("rename_unparsable", "none")


def test_undoing_the_rename_halfway_suggests_only_to_finish_the_undo():
    source = "def f(width):\n    a = width\n    return width\n"
    typist = Typist(source)
    cursor = typist.retype("width", "w")
    typist.take(typist.suggest(cursor)[0])  # `a = w`
    typist.retype("w", "width")  # the parameter's name put back
    found, _ = typist.suggest(0)
    assert found is not None and found.label == "rename w → width"
    typist.take(found)
    assert typist.text == source and typist.suggest(0)[0] is None


def test_a_module_level_name_is_renamed_in_the_open_files_that_import_it():
    pricing = Typist("def total(order):\n    return sum(order)\n\n\nprint(total([1]))\n", name="pricing")
    checkout = Typist(
        "from shop.pricing import total\nfrom other import total as t2\n\n\ndef pay(o):\n"
        "    return total(o) + t2(o)\n",
        name="checkout",
        store=pricing.store,
    )
    checkout.changes = pricing.changes  # one server: one change log
    checkout.finder = pricing.finder
    pricing.imports.add((checkout.uri, pricing.uri))
    pricing.take_all(pricing.retype("total", "grand_total"))
    assert "print(grand_total([1]))" in pricing.text
    taken, _ = checkout.take_all(0, [pricing.doc])
    assert len(taken) == 2
    assert checkout.text.startswith("from shop.pricing import grand_total\nfrom other import total as t2\n")
    assert "return grand_total(o) + t2(o)" in checkout.text
    pricing.imports.clear()  # a file that does not import it is left alone
    other = Typist("from x import total\nprint(total)\n", name="other", store=pricing.store)
    assert pricing.finder.suggest(other.doc, 0, [pricing.doc])[0] is None


def test_change_spans_follow_typing_undo_and_shifts():
    log = ChangeLog()
    text = "alpha beta gamma"
    log.record("u", text, 6, 10, "")  # beta deleted
    text = "alpha  gamma"
    log.record("u", text, 6, 6, "b")
    text = "alpha b gamma"
    log.record("u", text, 0, 0, ">> ")  # a change before it shifts it
    text = ">> alpha b gamma"
    spans = log.spans("u")
    assert [(s.start, s.old, s.new) for s in spans] == [(9, "beta", "b"), (0, "", ">> ")]
    log.record("u", text, 9, 10, "beta")  # back where it changed after another change: its own span
    assert [(s.start, s.old, s.new) for s in log.spans("u")][-1] == (9, "b", "beta")
    log.record("u", ">> alpha beta gamma", 9, 13, "b")  # undone at once: merged, nothing left there
    assert [(s.start, s.old, s.new) for s in log.spans("u")] == [(0, "", ">> ")]
