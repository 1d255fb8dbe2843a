"""Next-edit parts: the edit history, the prompt formats, the answer turned into minimal edits."""

from __future__ import annotations

from aicockpit.context.documents import DocumentStore, TextChange
from aicockpit.context.edits import EditHistory
from aicockpit.context.positions import Position
from aicockpit.edit.diff import minimal_edits
from aicockpit.prompt.next_edit import (
    CURSOR,
    REGION_END,
    REGION_START,
    EditWindow,
    build_prompt,
    choose_format,
    history,
    parse_region,
)

SOURCE = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Words:
    def count(self, text: str) -> int:
        return len(text.split())


def type_into(documents: DocumentStore, uri: str, line: int, column: int, text: str, version: int) -> None:
    for n, ch in enumerate(text):
        at = Position(line, column + n)
        documents.change(uri, version + n, [TextChange(ch, at, at)])


def test_keystrokes_coalesce_into_one_edit_and_a_pause_starts_another():
    documents = DocumentStore()
    clock = Clock()
    documents.history = EditHistory(clock)
    uri = "file:///w/geo.py"
    documents.open(uri, "python", 1, SOURCE)
    # Rename width -> w in the signature: delete "idth", one key at a time.
    for n in range(4):
        clock.now += 0.1
        documents.change(uri, 2 + n, [TextChange("", Position(0, 10), Position(0, 11))])
    (hunk,) = documents.history.hunks()
    assert hunk.old == ("def area(width, height):",) and hunk.new == ("def area(w, height):",)
    clock.now += 5  # a pause: the next change is another edit
    documents.change(uri, 9, [TextChange("", Position(1, 12), Position(1, 16))])
    first, second = documents.history.hunks()
    assert first == hunk and second.old == ("    return width * height",)
    assert second.new == ("    return w * height",) and second.old_start == 1


def test_a_change_far_away_ends_the_edit_and_closing_keeps_it():
    documents = DocumentStore()
    documents.history = EditHistory(Clock())
    uri = "file:///w/long.py"
    documents.open(uri, "python", 1, "".join(f"x{i} = {i}\n" for i in range(40)))
    type_into(documents, uri, 0, 0, "# ", 2)
    type_into(documents, uri, 30, 0, "# ", 4)
    documents.close(uri)
    hunks = documents.history.hunks()
    assert [(h.old_start, h.new) for h in hunks] == [(0, ("# x0 = 0",)), (30, ("# x30 = 30",))]


def test_the_zeta_prompt_puts_the_slow_changing_parts_first_and_marks_the_region_and_cursor():
    documents = DocumentStore()
    documents.history = EditHistory(Clock())
    uri = "file:///w/geo.py"
    documents.open(uri, "python", 1, SOURCE)
    documents.change(uri, 2, [TextChange("", Position(0, 10), Position(0, 14))])
    edits = history([(h, "geo.py") for h in documents.history.hunks()], Words(), 500)
    window = EditWindow("geo.py", "", "def area(w, height):\n    return width * height\n", 28, "\n", True, 0)
    prompt = build_prompt("zeta", edits, window)
    text = prompt.text
    order = [
        "### Instruction:",
        "### User Edits:",
        'User edited "geo.py":\n```diff\n@@ -1,1 +1,1 @@\n-def area(width, height):\n+def area(w, height):',
        "### User Excerpt:",
        f"```geo.py\n<|start_of_file|>\n{REGION_START}\ndef area(w, height):\n    ret{CURSOR}urn width",
        f"{REGION_END}\n\n```",
        "### Response:",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    instruct = build_prompt("instruct", edits, window)
    assert (
        instruct.messages[0]["role"] == "system"
        and "-def area(width, height):" in instruct.messages[1]["content"]
    )
    assert (
        choose_format("auto", "zed-industries/zeta") == "zeta" and choose_format("auto", "qwen") == "instruct"
    )


def test_the_history_keeps_the_newest_edits_that_fit_oldest_first():
    documents = DocumentStore()
    clock = Clock()
    documents.history = EditHistory(clock)
    uri = "file:///w/a.py"
    documents.open(uri, "python", 1, "a = 1\n" * 30)
    for n in range(3):
        clock.now += 10
        type_into(documents, uri, n * 10, 0, f"edit{n} ", 2 + n * 10)
    hunks = [(h, "a.py") for h in documents.history.hunks()]
    everything = history(hunks, Words(), 10_000)
    assert everything.index("edit0") < everything.index("edit1") < everything.index("edit2")
    newest = history(hunks, Words(), 30)
    assert "edit2" in newest and "edit0" not in newest


def test_an_answer_becomes_the_smallest_edits_and_a_cut_off_answer_none():
    old = "def area(w, height):\n    return width * height\n"
    answer = f"{REGION_START}\ndef area(w, height):\n    return w{CURSOR} * height\n"
    region = parse_region(answer, old, ended=True)  # stopped at the end marker (a stop string)
    assert region == "def area(w, height):\n    return w * height\n"
    (edit,) = minimal_edits(old, region, 100)
    assert (edit.start, edit.end, edit.text) == (
        100 + old.index("width") + 1,
        100 + old.index("width") + 5,
        "",
    )
    assert parse_region(answer, old, ended=False) is None  # cut off by max_tokens
    assert parse_region("no markers at all", old, ended=True) is None
    assert parse_region(answer + REGION_END + "\nmore", old, ended=False) == region
