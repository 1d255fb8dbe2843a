from aicockpit.edit.diff import apply_line_edits, line_edits, unified_diff
from aicockpit.edit.service import doc_comment, reindent
from aicockpit.edit.targets import block_after, enclosing_definition, find_instruction
from aicockpit.prompt.chat import extract_code, split_command

CODE = """import os

# ai: make it async
def load(path):
    with open(path) as f:
        return f.read()

def other():
    return 1
"""
LINES = CODE.split("\n")


def test_line_edits_touch_only_changed_lines():
    old = "a\nb\nc\nd\n"
    new = "a\nB\nc\nd\ne\n"
    edits = line_edits(old, new, 10)
    assert [(e.start_line, e.end_line, e.text) for e in edits] == [(11, 12, "B\n"), (14, 14, "e\n")]
    assert apply_line_edits("x\n" * 10 + old, edits) == "x\n" * 10 + new


def test_a_model_block_without_final_newline_does_not_touch_the_last_line():
    assert line_edits("a\nb\n", "a\nb", 0) == []
    assert "+B" in unified_diff("a\nb\n", "a\nB\n", "f.py")


def test_instruction_comment_and_the_block_after_it():
    found = find_instruction(LINES, "python", 3, 3)  # cursor on the def: the comment is the line above
    assert found is not None and found.line == 2 and found.text == "make it async"
    assert block_after(LINES, found.line) == (3, 5)
    assert find_instruction(LINES, "javascript", 3, 3) is None  # wrong comment syntax for the language
    assert find_instruction(["// ai: fix it", "f();"], "typescript", 1, 1).text == "fix it"


def test_enclosing_definition_by_indentation_and_braces():
    assert enclosing_definition(LINES, 4) == (3, 5)
    assert enclosing_definition(LINES, 0) is None
    js = ["function f(a) {", "  if (a) {", "    return 1;", "  }", "  return 2;", "}", "f(1);"]
    assert enclosing_definition(js, 2) == (0, 5)


def test_reindent_restores_the_base_indentation():
    assert reindent("x = 1\ny = 2", "    a = 0\n    b = 1") == "    x = 1\n    y = 2"
    assert reindent("    x = 1", "    a = 0") == "    x = 1"


def test_doc_comment_placement():
    line, text = doc_comment(LINES, 3, "python", "Load a file.")
    assert line == 4 and text == '    """Load a file."""\n'
    line, text = doc_comment(["function f() {", "}"], 0, "javascript", "Does f.")
    assert line == 0 and text == "/**\n * Does f.\n */\n"


def test_reading_replies():
    assert extract_code("Sure:\n```python\nx = 1\n```\nDone") == "x = 1"
    assert extract_code("x = 2\n") == "x = 2"
    assert split_command("```sh\nls -la\n```\nLists files.") == ("ls -la", "Lists files.")
