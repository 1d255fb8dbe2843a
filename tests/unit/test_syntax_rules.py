"""Post-processing that reads the syntax tree, and the plain bracket rule."""

from __future__ import annotations

from aicockpit.completion.postprocess import cursor_shape, shape_suggestion
from aicockpit.completion.syntax_rules import check_insertion, syntax_cursor_shape
from aicockpit.context.documents import DocumentStore

VALID = "def f(a):\n    return a\n\n\ndef g(b):\n    return b\n"


def doc_with(text: str, language: str = "python"):
    return DocumentStore().open("file:///w/x.py", language, 1, text)


def test_nonsense_between_valid_statements_is_dropped():
    doc = doc_with(VALID)
    offset = VALID.index("\n\ndef g") + 1
    assert check_insertion(doc, offset, "def h(c):\n    return c\n") == "def h(c):\n    return c\n"
    assert check_insertion(doc, offset, ")))(((") == ""


def test_a_multi_line_suggestion_is_trimmed_to_the_lines_that_parse():
    doc = doc_with(VALID)
    offset = VALID.index("return a") + len("return a")
    assert check_insertion(doc, offset, " + 1\n    x = (") == " + 1"


def test_incomplete_code_is_left_to_the_plain_rules():
    text = "def f(a):\n    total = \n"
    doc = doc_with(text)
    assert check_insertion(doc, text.index("= ") + 2, "$$") == "$$"  # nothing to compare with


def test_inside_a_comment_or_string_only_the_line_is_completed():
    text = "def f():\n    # explain \n    return 1\n"
    doc = doc_with(text)
    assert not syntax_cursor_shape(doc, text.index("explain ") + 8).multiline
    text = 'x = """doc\n\n"""\n'
    doc = doc_with(text)
    assert not syntax_cursor_shape(doc, text.index("\n\n") + 1).multiline


def test_an_empty_body_wants_a_block_and_code_to_the_right_one_line():
    text = "def f(a):\n    \n"
    doc = doc_with(text)
    assert syntax_cursor_shape(doc, text.index("    \n") + 4).multiline
    text = "x = foo(bar)\n"
    assert not syntax_cursor_shape(doc_with(text), text.index("bar")).multiline
    text = "function f(a) {}\n"
    assert syntax_cursor_shape(doc_with(text, "javascript"), text.index("{") + 1).multiline
    text = "function f(a) { return a; }\n"
    assert not syntax_cursor_shape(doc_with(text, "javascript"), text.index("return")).multiline


def test_brackets_the_code_already_closes_are_not_closed_again():
    shape = cursor_shape("    print(compute(", "))")
    assert shape_suggestion("a, b)) + 1", shape, "))\n") == "a, b"
    shape = cursor_shape("    items = [", "]")
    assert shape_suggestion("f(x) for x in xs] + [0", shape, "]\n") == "f(x) for x in xs"


LONG = "".join(
    f"def f{i}(a):\n    # café 🍵\n    if a:\n        return a + {i}\n    return [a,\n            {i}]\n\n\n"
    for i in range(12)
)
SUGGESTIONS = [
    "x = 1",
    "x = (1,\n     2)\n",
    " + 1\n    x = (",
    "    y = a\n    return y\n",
    "def h(c):\n    return c\n",
    ")))(((",
    "return a\n  broken = [\n",
    "\n\nclass K:\n    pass\n",
]


def whole_file_check(parser, text: str, offset: int, suggestion: str) -> str:
    """What check_insertion means, the slow way: a fresh parse of the whole new text."""
    candidate = suggestion
    while candidate:
        new_text = text[:offset] + candidate + text[offset:]
        if not parser.parse(new_text.encode()).root_node.has_error:
            return candidate
        if "\n" not in candidate.rstrip("\n"):
            return ""
        candidate = candidate.rstrip("\n").rsplit("\n", 1)[0]
    return ""


def test_a_long_file_checks_the_statements_around_the_cursor_as_a_whole_file_parse_would():
    doc = doc_with(LONG)
    parser = doc.syntax.grammar.parser()
    cases = [(at, s) for at in range(0, len(LONG), 5) for s in SUGGESTIONS]
    got = [check_insertion(doc, at, s) for at, s in cases]
    assert got == [whole_file_check(parser, LONG, at, s) for at, s in cases]
    assert "" in got and SUGGESTIONS[1] in got and " + 1" in got  # kept, dropped and trimmed all happen
