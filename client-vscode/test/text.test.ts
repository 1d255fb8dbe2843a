import { describe, expect, it } from "vitest";
import { mentionAt, renderMarkdown } from "../src/markdown";
import { statusView, statsLines } from "../src/statusText";
import { applyTextEdits } from "../src/textEdits";

const range = (sl: number, sc: number, el: number, ec: number) => ({
  start: { line: sl, character: sc },
  end: { line: el, character: ec },
});

describe("applyTextEdits", () => {
  it("applies several edits in any order", () => {
    const text = "def f(x):\n    return x\n";
    const out = applyTextEdits(text, [
      { range: range(1, 11, 1, 12), newText: "x * 2" },
      { range: range(0, 6, 0, 7), newText: "x: int" },
    ]);
    expect(out).toBe("def f(x: int):\n    return x * 2\n");
  });
  it("counts UTF-16 units and clamps past the line end", () => {
    expect(applyTextEdits("a😀b\r\nc", [{ range: range(0, 3, 0, 99), newText: "!" }])).toBe("a😀!\r\nc");
  });
  it("refuses overlapping edits", () => {
    expect(() => applyTextEdits("abc", [{ range: range(0, 0, 0, 2), newText: "" }, { range: range(0, 1, 0, 3), newText: "" }])).toThrow();
  });
});

describe("markdown", () => {
  it("escapes HTML and adds code actions to code blocks", () => {
    const html = renderMarkdown("hi <script>x</script>\n\n```python\nprint('<b>')\n```\n");
    expect(html).not.toContain("<script>");
    expect(html).toContain('data-action="insert"');
    expect(html).toContain('data-action="apply"');
    expect(html).toContain("print('&lt;b&gt;')");
  });
  it("finds the @mention being typed", () => {
    expect(mentionAt("look at @shop/che", 17)).toEqual({ start: 8, query: "shop/che" });
    expect(mentionAt("mail me@example", 15)).toBeUndefined();
  });
});

describe("status", () => {
  const ready = {
    engine: { state: "ready", model: "tiny" },
    prefix_cache_hit_ratio: 0.824,
    last_request: { outcome: "completed", timings_ms: { answered: 57.4 } },
  };
  it("shows ready with latency and cache ratio", () => {
    expect(statusView("running", ready, true).text).toBe("$(sparkle) aicockpit ready · 57 ms · cache 82%");
    expect(statusView("running", ready, false).text).toContain("ghost text off");
  });
  it("shows loading, errors and a stopped server", () => {
    expect(statusView("running", { engine: { state: "loading" } }, true, 12).text).toContain("loading 12 s");
    expect(statusView("running", { engine: { state: "failed", error: "oom" } }, true)).toMatchObject({ error: true, tooltip: "oom" });
    expect(statusView("failed", undefined, true, 0, "no python").tooltip).toBe("no python");
    expect(statusView("starting", undefined, true).text).toContain("starting");
  });
  it("lists the figures", () => {
    expect(statsLines(ready)).toContain("Prefix-cache hit ratio: 82%");
  });
});
