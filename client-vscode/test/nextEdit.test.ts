import * as assert from "node:assert/strict";
import { cursorAfter, insertionLabel, jumpTarget, offscreenHint, suggestionView } from "../src/nextEditView";

const range = (sl: number, sc: number, el: number, ec: number) => ({
  start: { line: sl, character: sc },
  end: { line: el, character: ec },
});
const pos = (line: number, character: number) => ({ line, character });

describe("next-edit view", () => {
  it("strikes through what an edit removes and shows what it inserts after it", () => {
    const view = suggestionView([
      { range: range(4, 11, 4, 16), newText: "size" },
      { range: range(1, 11, 1, 16), newText: "size" },
    ]);
    assert.deepEqual(view.removed, [range(1, 11, 1, 16), range(4, 11, 4, 16)]);
    assert.deepEqual(view.inserted, [
      { at: pos(1, 16), label: "size" },
      { at: pos(4, 16), label: "size" },
    ]);
  });
  it("has nothing to strike for a pure insertion and nothing to insert for a deletion", () => {
    assert.deepEqual(suggestionView([{ range: range(2, 4, 2, 4), newText: "await " }]), {
      removed: [],
      inserted: [{ at: pos(2, 4), label: "await " }],
    });
    assert.deepEqual(suggestionView([{ range: range(1, 12, 1, 16), newText: "" }]), {
      removed: [range(1, 12, 1, 16)],
      inserted: [],
    });
  });
  it("shows inserted lines on one line, cut when long", () => {
    assert.equal(insertionLabel("x = 1\n\ty = 2\r\n"), "x = 1⏎    y = 2⏎");
    const long = insertionLabel("a".repeat(500));
    assert.equal(long.length, 120);
    assert.ok(long.endsWith("…"));
  });
});

describe("next-edit Tab", () => {
  const edits = [{ range: range(40, 4, 40, 9), newText: "total" }];
  it("applies at once when the edit is on screen", () => {
    assert.equal(jumpTarget(edits, [{ start: 20, end: 60 }]), undefined);
    assert.equal(offscreenHint(edits, [{ start: 20, end: 60 }], 22), undefined);
  });
  it("first jumps to an edit off screen, and says where it is", () => {
    assert.deepEqual(jumpTarget(edits, [{ start: 0, end: 30 }]), pos(40, 4));
    assert.deepEqual(jumpTarget(edits, [{ start: 0, end: 30 }, { start: 50, end: 70 }]), pos(40, 4));
    assert.equal(offscreenHint(edits, [{ start: 0, end: 30 }], 10), "↓ next edit at line 41 (Tab)");
    assert.equal(offscreenHint(edits, [{ start: 60, end: 90 }], 70), "↑ next edit at line 41 (Tab)");
  });
  it("puts the cursor at the end of the last edit's new text", () => {
    const text = "def f(width):\n    a = width\n    return width\n";
    const renamed = [
      { range: range(2, 11, 2, 16), newText: "size" },
      { range: range(1, 8, 1, 13), newText: "size" },
    ];
    assert.deepEqual(cursorAfter(text, renamed), pos(2, 15));
    // Lines added above move the cursor down.
    const added = [
      { range: range(0, 0, 0, 0), newText: "import os\n\n" },
      { range: range(2, 11, 2, 16), newText: "w" },
    ];
    assert.deepEqual(cursorAfter(text, added), pos(4, 12));
    // A deletion leaves the cursor where the text was.
    assert.deepEqual(cursorAfter(text, [{ range: range(1, 0, 2, 0), newText: "" }]), pos(1, 0));
  });
});
