from aicockpit.completion.postprocess import cursor_shape, shape_suggestion
from aicockpit.prompt.requests import completion_stops


def test_text_right_of_the_cursor_means_one_line():
    shape = cursor_shape("    x = foo(", ")")
    assert not shape.multiline and completion_stops(shape.multiline) == ("\n",)
    assert shape_suggestion("a, b)\nmore", shape, ")\n") == "a, b"


def test_block_start_allows_several_lines_until_the_block_ends():
    shape = cursor_shape("    def f(self):", "")
    assert shape.multiline
    raw = "\n        a = 1\n        return a\n    def g(self):\n        pass"
    assert shape_suggestion(raw, shape, "") == "\n        a = 1\n        return a"


def test_stops_before_repeating_the_code_below():
    shape = cursor_shape("    ", "")
    raw = "x = 1\n    y = 2\n    return x"
    assert shape_suggestion(raw, shape, "\n    y = 2\n") == "x = 1"


def test_degenerate_repetition_is_cut():
    shape = cursor_shape("total = ", "", "never")
    assert shape_suggestion("#com#com#com#com#com", shape, "") == "#com"


def test_settings_override_the_guess():
    assert cursor_shape("x = ", "", "always").multiline
    assert not cursor_shape("def f():", "", "never").multiline


def test_generation_is_settled_once_the_suggestion_cannot_change():
    from aicockpit.completion.postprocess import cursor_shape, suggestion_settled

    single = cursor_shape("    total = ", ")", "auto")
    assert not suggestion_settled("price * qty", single, ")\n")
    assert suggestion_settled("price * qty\n", single, ")\n")
    block = cursor_shape("def f(a):", "", "auto")
    assert not suggestion_settled("\n    x = a\n    ret", block, "\n")
    assert not suggestion_settled("\n    x = a\n    return x", block, "\n")  # the last line is unfinished
    assert suggestion_settled("\n    x = a\n    return x\nprint(", block, "\n")  # left the block
    assert suggestion_settled("\n    x = 1\n    x = 1\n    x = 1\n    x = 1\n", block, "\n")  # a loop


def test_whitespace_the_cursor_already_follows_is_not_doubled():
    # Real models whose tokens carry their leading space write " raise" after an indentation.
    at_indent = cursor_shape("        ", "")
    assert shape_suggestion(" raise ValueError(url)\n        x = 1", at_indent, "") == (
        "raise ValueError(url)\n        x = 1"
    )
    assert shape_suggestion(" f.read()", cursor_shape("    return ", ""), "") == "f.read()"
    # At column 0 the leading indentation is the suggestion's own.
    assert shape_suggestion("    pass", cursor_shape("", ""), "") == "    pass"


def test_a_suggestion_that_rewrites_the_rest_of_the_line_stops_before_it():
    # A prefix-only prompt: the model never saw ", name)" right of the cursor and wrote it again.
    shape = cursor_shape("    return os.path.join(", ", name)")
    raw = "os.path.dirname(__file__), name)"
    assert shape_suggestion(raw, shape, ", name)\n") == "os.path.dirname(__file__)"
    # Part of the rest, ending where a word ends, is a duplicate too; inside a word it is not.
    assert shape_suggestion("base, na", cursor_shape("f(", ", name)"), ", name)\n") == "base, na"
    assert shape_suggestion("base, name", cursor_shape("f(", ", name)"), ", name)\n") == "base"


def test_a_block_cut_by_max_tokens_shows_its_complete_lines_only():
    shape = cursor_shape("    def fetch(self):", "")
    raw = "\n        if not self.ready:\n            r"
    assert shape_suggestion(raw, shape, "", truncated=True) == "\n        if not self.ready:"
    assert shape_suggestion(raw, shape, "", truncated=False) == raw  # it ended there: a complete answer
    one_line = cursor_shape("    x = compute(", ")")
    assert shape_suggestion("a, b, c", one_line, ")\n", truncated=True) == "a, b, c"  # nothing better
