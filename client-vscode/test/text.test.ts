import * as assert from "node:assert/strict";
import { assertExcludes, assertIncludes, assertMatch } from "./match";
import { mentionAt, renderMarkdown } from "../src/markdown";
import { engineFailureView, statusView, statsLines } from "../src/statusText";
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
    assert.equal(out, "def f(x: int):\n    return x * 2\n");
  });
  it("counts UTF-16 units and clamps past the line end", () => {
    assert.equal(applyTextEdits("a😀b\r\nc", [{ range: range(0, 3, 0, 99), newText: "!" }]), "a😀!\r\nc");
  });
  it("refuses overlapping edits", () => {
    assert.throws(() => applyTextEdits("abc", [{ range: range(0, 0, 0, 2), newText: "" }, { range: range(0, 1, 0, 3), newText: "" }]), );
  });
});

describe("markdown", () => {
  it("escapes HTML and adds code actions to code blocks", () => {
    const html = renderMarkdown("hi <script>x</script>\n\n```python\nprint('<b>')\n```\n");
    assertExcludes(html, "<script>");
    assertIncludes(html, 'data-action="copy"');
    assertIncludes(html, 'data-action="insert"');
    assertIncludes(html, 'data-action="apply"');
    assertIncludes(html, "print('&lt;b&gt;')");
  });
  it("finds the @mention being typed", () => {
    assert.deepEqual(mentionAt("look at @shop/che", 17), { start: 8, query: "shop/che" });
    assert.equal(mentionAt("mail me@example", 15), undefined);
  });
});

describe("status", () => {
  const ready = {
    engine: { state: "ready", model: "tiny" },
    prefix_cache_hit_ratio: 0.824,
    last_request: { outcome: "served", timings_ms: { answered: 57.4 } },
  };
  it("shows ready with latency and cache ratio", () => {
    assert.equal(statusView("running", ready, true).text, "$(sparkle) aicockpit ready · 57 ms · cache 82%");
    assertIncludes(statusView("running", ready, false).text, "ghost text off");
  });
  it("shows loading, errors and a stopped server", () => {
    assertIncludes(statusView("running", { engine: { state: "loading" } }, true, 12).text, "loading model 12 s");
    // The server's clock wins over the client's, so every display says the same.
    assertIncludes(statusView("running", { engine: { state: "loading", state_seconds: 30.4 } }, true, 12).text, "loading model 30 s");
    assertMatch(statusView("running", { engine: { state: "failed", error: "oom" } }, true), { error: true, tooltip: "oom" });
    assert.equal(statusView("failed", undefined, true, 0, "no python").tooltip, "no python");
    assertIncludes(statusView("starting", undefined, true).text, "starting");
  });
  it("follows the backend of the completion role", () => {
    const remote = {
      ...ready,
      roles: { completion: { profile: "remote" }, chat: { profile: "default", switching_to: "big" } },
      backends: { default: { state: "stopped" }, remote: { state: "loading", model: "qwen-7b" } },
    };
    assertIncludes(statusView("running", remote, true, 3).text, "loading model 3 s");
    assertIncludes(statsLines(remote), "Role chat: default (switching to big)");
    assertIncludes(statsLines(remote), "Engine: loading (qwen-7b)");
  });
  it("lists the figures", () => {
    assertIncludes(statsLines(ready), "Prefix-cache hit ratio: 82%");
    assertIncludes(statsLines({ ...ready, requests: 3, accepted: 2 }), "Requests: 3, suggestions accepted: 2");
    assert.ok(!statsLines(ready).some((line) => line.startsWith("Next edits")));
    const nextEdits = { ...ready, next_edit: { requests: 9, suggested: 4, accepted: 1, rejected: 2 } };
    assertIncludes(statsLines(nextEdits), "Next edits: 4 suggested, 1 accepted, 2 dismissed");
  });
  it("shows only a completion's latency", () => {
    const chat = { ...ready, last_request: { kind: "chat", timings_ms: { answered: 900 } } };
    assert.equal(statusView("running", chat, true).text, "$(sparkle) aicockpit ready · cache 82%");
  });
  it("keeps the last completion's latency while next edits come after it", () => {
    const after = {
      ...ready,
      last_request: { kind: "next_edit", timings_ms: { answered: 300 } },
      last_completion: { kind: "completion", outcome: "served", timings_ms: { answered: 41 } },
    };
    assert.equal(statusView("running", after, true).text, "$(sparkle) aicockpit ready · 41 ms · cache 82%");
  });
});

describe("engine failure", () => {
  it("spells the server's setting as the VS Code setting to open", () => {
    const missing = { state: "failed", error: "model folder /x does not exist", fix: { setting: "engine.model" } };
    assert.deepEqual(engineFailureView(missing, "aicockpit.client.serverArgs"), {
      message: "aicockpit cannot load the model: model folder /x does not exist; change aicockpit.engine.model.",
      setting: "aicockpit.engine.model",
    });
    const offline = {
      error: "cannot download Org/Name: no network (offline); set engine.model to a local folder",
      fix: { setting: "engine.model" },
    };
    assert.equal(
      engineFailureView(offline, "x").message,
      "aicockpit cannot load the model: cannot download Org/Name: no network (offline); set aicockpit.engine.model to a local folder.",
    );
    assertMatch(statusView("running", { engine: missing }, true), { text: "$(error) aicockpit: model not loaded", error: true });
    // The completion role's backend entry has the error but not the fix.
    const routed = {
      engine: missing,
      roles: { completion: { profile: "default" } },
      backends: { default: { state: "failed", error: missing.error } },
    };
    assertIncludes(statusView("running", routed, true).text, "model not loaded");
  });
  it("points at the client setting that holds an overriding flag", () => {
    const flag = { error: "model folder /x does not exist", fix: { flag: "--model" } };
    assertMatch(engineFailureView(flag, "aicockpit.client.serverArgs"), {
      message: /given by the --model flag in aicockpit.client.serverArgs/,
      setting: "aicockpit.client.serverArgs",
    });
  });
  it("has no setting to open for other failures", () => {
    assert.deepEqual(engineFailureView({ error: "RuntimeError: oom" }, "x"), {
      message: "aicockpit: the engine failed to start: RuntimeError: oom",
    });
  });
});
