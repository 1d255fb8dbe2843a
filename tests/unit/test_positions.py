import random

from aicockpit.context.documents import DocumentStore, TextChange
from aicockpit.context.positions import LineIndex, Position, utf16_len, utf16_to_index

TEXT = "a = 1\nlabel = '🍵é' + x\nlast"


def test_utf16_columns_count_surrogate_pairs_twice():
    line = "label = '🍵é' + x"
    assert utf16_len(line) == len(line) + 1
    assert utf16_to_index(line, 9) == 9  # just before the emoji
    assert utf16_to_index(line, 11) == 10  # just after it
    assert utf16_to_index(line, 12) == 11  # after "é"
    assert utf16_to_index(line, 10) == 10  # inside the pair rounds up past it
    assert utf16_to_index(line, 999) == len(line)


def test_offsets_and_positions_round_trip():
    index = LineIndex(TEXT)
    for offset in range(len(TEXT) + 1):
        position = index.position(offset)
        assert index.offset(position) == offset


def test_clamp_keeps_positions_inside_the_text():
    index = LineIndex(TEXT)
    assert index.clamp(Position(1, 500)) == Position(1, utf16_len("label = '🍵é' + x"))
    assert index.clamp(Position(99, 0)) == Position(2, 4)
    assert index.clamp(Position(-3, -2)) == Position(0, 0)


def test_incremental_changes_apply_at_utf16_positions():
    store = DocumentStore()
    store.open("u", "python", 1, TEXT)
    end = utf16_len("label = '🍵")
    store.change("u", 2, [TextChange("X", Position(1, end), Position(1, end + 1))])  # replace "é"
    assert store.get("u").text == "a = 1\nlabel = '🍵X' + x\nlast"
    store.change("u", 3, [TextChange("!", Position(7, 0), Position(9, 9))])  # past the end: appended
    assert store.get("u").text.endswith("last!")
    store.change("u", 4, [TextChange("new")])
    assert store.get("u").text == "new" and store.get("u").version == 4


def test_an_edited_index_matches_a_fresh_one():
    rng = random.Random(7)
    text = "def f(x):\n    return x\n\nclass A:\n    pass\n"
    index = LineIndex(text)
    for _ in range(500):
        start = rng.randint(0, len(text))
        end = rng.randint(start, min(len(text), start + 12))
        inserted = rng.choice(["", "a", "\n", "x\ny", "\n\n  ", "é🍵\n"])
        text = text[:start] + inserted + text[end:]
        index = index.edited(text, start, end, inserted)
        assert index.starts == LineIndex(text).starts
