"""The replay reads a completion item as the ghost text it amounts to (servers without inline completion)."""

from __future__ import annotations

from aicockpit.bench.replay import as_inserted

TEXT = "def f(x):\n    ret\n"
CURSOR = TEXT.index("ret") + 3


def edit(start: int, end: int, new_text: str) -> dict:
    return {"textEdit": {"newText": new_text, "range": {"start": {"line": 1, "character": start},
                                                        "end": {"line": 1, "character": end}}}}  # fmt: skip


def test_an_edit_from_the_word_typed_so_far_adds_only_the_rest():
    # tabby-agent's items start at the word before the cursor, so the editor's filter keeps them.
    assert as_inserted(edit(4, 7, "return x"), TEXT, CURSOR)["insertText"] == "urn x"


def test_an_edit_at_the_cursor_adds_its_text():
    assert as_inserted(edit(7, 7, "urn x"), TEXT, CURSOR)["insertText"] == "urn x"


def test_an_item_without_an_edit_inserts_its_insert_text_or_label():
    assert as_inserted({"label": "urn x"}, TEXT, CURSOR)["insertText"] == "urn x"
