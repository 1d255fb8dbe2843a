// Applies LSP text edits (UTF-16 line/character positions) to a string: the text the
// Ctrl+K diff preview shows before anything touches the real document.

export interface Pos {
  line: number;
  character: number;
}

export interface PlainTextEdit {
  range: { start: Pos; end: Pos };
  newText: string;
}

/** Offsets of each line's start (JavaScript strings index UTF-16 units, like LSP). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return starts;
}

export function offsetAt(text: string, starts: number[], pos: Pos): number {
  if (pos.line >= starts.length) return text.length;
  const start = starts[Math.max(0, pos.line)];
  const end = pos.line + 1 < starts.length ? starts[pos.line + 1] - 1 : text.length;
  const lineEnd = end > start && text[end - 1] === "\r" ? end - 1 : end;
  return Math.min(start + Math.max(0, pos.character), lineEnd);
}

/** The text after applying `edits` (non-overlapping, any order), like a WorkspaceEdit. */
export function applyTextEdits(text: string, edits: PlainTextEdit[]): string {
  const starts = lineStarts(text);
  const spans = edits
    .map((edit, index) => ({
      start: offsetAt(text, starts, edit.range.start),
      end: offsetAt(text, starts, edit.range.end),
      newText: edit.newText,
      index,
    }))
    .sort((a, b) => a.start - b.start || a.index - b.index);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].start < spans[i - 1].end) throw new Error("overlapping edits");
  }
  let out = "";
  let at = 0;
  for (const span of spans) {
    out += text.slice(at, span.start) + span.newText;
    at = Math.max(at, span.end);
  }
  return out + text.slice(at);
}
