"""Repeated edits without a model: a change made at two places, suggested at the next place
that looks like they did; and the guards on a model's suggestions."""

from __future__ import annotations

from aicockpit.edit.diff import TextEdit
from aicockpit.features.copilot_inline_edit import one_edit
from aicockpit.next_edit.guards import outside, undoes
from aicockpit.next_edit.structural.changes import Span
from tests.unit.structural_editor import Typist

CALLS = """\
def load(urls, t):
    a = fetch(urls[0])
    b = fetch(base_url)
    c = fetch(other)
    d = fetch(self.more_url + "/x")
    print(fetch)
    e = get(other)
    f = fetch(x, y)
"""


def append_at_two_calls(typist: Typist, text: str, calls: tuple[str, str]) -> int:
    cursor = 0
    for call in calls:
        cursor = typist.type(typist.find(call) + len(call) - 1, text)
    return cursor


def test_an_argument_added_to_two_calls_is_suggested_at_the_next_calls_of_the_same_function():
    typist = Typist(CALLS)
    cursor = append_at_two_calls(typist, ", timeout=t", ("fetch(urls[0])", "fetch(base_url)"))
    taken, why = typist.take_all(cursor)
    assert [t.kind for t in taken] == ["repeat"] * 3 and why == "none"
    # Every call of fetch, whatever its arguments (adding one does not depend on them);
    # never `print(fetch)` or `get(other)`.
    assert typist.text == CALLS.replace("fetch(other)", "fetch(other, timeout=t)").replace(
        'fetch(self.more_url + "/x")', 'fetch(self.more_url + "/x", timeout=t)'
    ).replace("fetch(urls[0])", "fetch(urls[0], timeout=t)").replace(
        "fetch(base_url)", "fetch(base_url, timeout=t)"
    ).replace("fetch(x, y)", "fetch(x, y, timeout=t)")


def test_names_that_differ_at_each_site_differ_the_same_way_at_the_next():
    source = (
        "class Box:\n    def __init__(self, width, height, depth):\n"
        "        self.width = width\n        self.height = height\n        self.depth = depth\n"
    )
    typist = Typist(source)
    cursor = 0
    for line in ("self.width = width", "self.height = height"):
        cursor = typist.type(typist.find(line) + len(line), " or 0")
    found, _ = typist.suggest(cursor)
    typist.take(found)
    assert typist.text.endswith("        self.depth = depth or 0\n")


def test_another_objects_method_changed_twice_is_a_pattern():
    source = 'log.info("a %s", x)\nlog.info("b %s", y)\nlog.info("c %s", z)\nother.info(z)\n'
    typist = Typist(source)
    for line in range(2):
        at = typist.find("info", line)
        typist.replace(at, at + 4, "")
        typist.type(at, "debug")
    taken, _ = typist.take_all(0)
    assert typist.text == source.replace("log.info", "log.debug") and len(taken) == 1


def test_a_variable_renamed_at_two_places_is_left_to_renames():
    source = "def f(a):\n    return a\n\n\ndef g(a):\n    return a\n\n\ndef h(a):\n    return a\n"
    typist = Typist(source)
    typist.retype("a", "b", 1)  # `return a` in f, then in g: uses, no binding renamed
    cursor = typist.retype("a", "b", 2)
    assert typist.suggest(cursor)[0] is None


def test_a_call_wrapped_twice_is_wrapped_at_the_next_call_once():
    source = "a = load(x)\nb = load(y, 2)\nc = load(z)\nd = list(load(w))\n"
    typist = Typist(source)
    for call in ("load(x)", "load(y, 2)"):
        at = typist.find(call)
        typist.type(at, "list(")
        typist.type(at + len("list(") + len(call), ")")
    taken, _ = typist.take_all(0)
    assert len(taken) == 1 and typist.text == source.replace("= load", "= list(load").replace(
        "load(x)", "load(x))"
    ).replace("load(y, 2)", "load(y, 2))").replace("load(z)", "load(z))")


def test_two_different_changes_are_no_rule():
    typist = Typist(CALLS)
    typist.type(typist.find("fetch(urls[0])") + len("fetch(urls[0])") - 1, ", timeout=t")
    cursor = typist.type(typist.find("fetch(base_url)") + len("fetch(base_url)") - 1, ", retries=3")
    assert typist.suggest(cursor)[0] is None


def test_a_model_edit_that_undoes_the_last_change_or_leaves_its_region_is_caught():
    text = "def area(w, height):\n    return width * height\n"
    last = Span(9, "width", "w", 0.0, 1)
    assert undoes(text, [TextEdit(9, 10, "width")], last)
    assert undoes(text, [TextEdit(10, 10, "idth")], last)  # the same, as a smaller edit
    assert not undoes(text, [TextEdit(32, 37, "w")], last)  # the use renamed: what it should do
    assert not undoes(text, [TextEdit(9, 10, "size")], last)
    assert outside([TextEdit(0, 3, "")], 5, 40) and not outside([TextEdit(32, 37, "w")], 5, 40)


def test_copilot_gets_one_edit_spanning_all_changes():
    text = "fetch(a)\nfetch(b)\n"
    edits = [TextEdit(7, 7, ", t=1"), TextEdit(16, 16, ", t=1")]
    assert one_edit(text, edits) == (7, 16, ", t=1)\nfetch(b, t=1")
