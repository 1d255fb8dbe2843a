// The plain logic behind next-edit suggestions (src/nextEdit.ts draws them): what is struck
// through, what shows as inserted text, whether Tab applies or first jumps, and where the
// cursor lands after applying. No vscode import, so test/ checks it without an editor.
import { applyTextEdits, lineStarts, offsetAt, type PlainTextEdit, type Pos } from "./textEdits";

export type { PlainTextEdit, Pos };

export interface Span {
  start: Pos;
  end: Pos;
}

export interface Insertion {
  /** Where the inserted text shows: the end of the text it replaces. */
  at: Pos;
  /** The inserted text as one line (a decoration cannot break lines). */
  label: string;
}

export interface SuggestionView {
  /** Text the suggestion removes: struck through. */
  removed: Span[];
  /** Text it inserts: shown beside what it replaces. */
  inserted: Insertion[];
}

/** Lines on screen, first and last inclusive (a folded editor has several ranges). */
export interface LineRange {
  start: number;
  end: number;
}

const MAX_LABEL = 120;

const before = (a: Pos, b: Pos) => a.line < b.line || (a.line === b.line && a.character < b.character);

function inOrder(edits: readonly PlainTextEdit[]): PlainTextEdit[] {
  return [...edits].sort((a, b) => (before(a.range.start, b.range.start) ? -1 : before(b.range.start, a.range.start) ? 1 : 0));
}

/** Inserted text on one line: line breaks as ⏎, tabs as four spaces, long text cut with …. */
export function insertionLabel(text: string, max = MAX_LABEL): string {
  const flat = text.replace(/\r\n|\r|\n/g, "⏎").replace(/\t/g, "    ");
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

/** The inline diff of a suggestion: each edit's old text struck through, its new text after it. */
export function suggestionView(edits: readonly PlainTextEdit[]): SuggestionView {
  const view: SuggestionView = { removed: [], inserted: [] };
  for (const edit of inOrder(edits)) {
    const { start, end } = edit.range;
    if (before(start, end)) view.removed.push({ start, end });
    if (edit.newText) view.inserted.push({ at: end, label: insertionLabel(edit.newText) });
  }
  return view;
}

/**
 * Where Tab first moves the cursor: the start of the first edit when its line is off
 * screen (the user sees what a second Tab applies); undefined when it is on screen and
 * Tab applies at once.
 */
export function jumpTarget(edits: readonly PlainTextEdit[], visible: readonly LineRange[]): Pos | undefined {
  const first = inOrder(edits)[0];
  if (!first) return undefined;
  const line = first.range.start.line;
  return visible.some((r) => r.start <= line && line <= r.end) ? undefined : first.range.start;
}

/** The words shown at the end of the cursor's line while the suggestion is off screen. */
export function offscreenHint(edits: readonly PlainTextEdit[], visible: readonly LineRange[], cursorLine: number): string | undefined {
  const target = jumpTarget(edits, visible);
  if (!target) return undefined;
  return `${target.line < cursorLine ? "↑" : "↓"} next edit at line ${target.line + 1} (Tab)`;
}

function positionAt(text: string, offset: number): Pos {
  const starts = lineStarts(text);
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (starts[mid] <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low, character: offset - starts[low] };
}

/** Where the cursor goes once `edits` are applied to `text`: the end of the last one's new text. */
export function cursorAfter(text: string, edits: readonly PlainTextEdit[]): Pos {
  const starts = lineStarts(text);
  const ordered = inOrder(edits);
  let shift = 0;
  let end = 0;
  for (const edit of ordered) {
    const start = offsetAt(text, starts, edit.range.start);
    const stop = offsetAt(text, starts, edit.range.end);
    end = start + shift + edit.newText.length;
    shift += edit.newText.length - (stop - start);
  }
  return positionAt(applyTextEdits(text, ordered), end);
}
