import * as assert from "node:assert/strict";
import { assertExcludes, assertIncludes, assertMatch } from "./match";
import { budgetText, latencyAfter, settingsNamed, speedText, troubles } from "../src/health";
import { newTraces, statsLines, statusView, type Stats } from "../src/statusText";

// A role's fields as the server sends them (the shape in aicockpit/stats `roles`).
const slow = {
  state: "slow",
  message: "slow: 6.1 s to first token on this machine",
  fix: "a smaller prompt: lower completion.latency_target_ms or completion.max_tokens; a GPU; or a remote profile",
  since_s: 42.3,
};
const unreachable = {
  state: "unreachable",
  message: "backend unreachable: team-fim",
  fix: "check that team-fim is running, or switch the completion profile",
  since_s: 3,
};
const ok = { state: "ok", message: "", fix: "", since_s: 100 };
const budget = {
  source: "measured",
  prefix_tokens: 1200,
  suffix_tokens: 300,
  header_tokens: 64,
  context_tokens: 512,
  max_tokens: 16,
  latency_target_ms: { cold: 1500, cached: 300 },
};
const speed = { prefill_tokens_per_s: 210.4, decode_ms_per_token: 28.2, first_token_ms_p50: 6100, samples: 12 };

function stats(completion: object, extra: Stats = {}): Stats {
  return {
    engine: { state: "ready", model: "tiny" },
    prefix_cache_hit_ratio: 0.5,
    last_completion: { kind: "completion", outcome: "served", timings_ms: { answered: 412 } },
    roles: { completion: { profile: "default", budget, speed, ...completion }, chat: { profile: "default", health: ok } },
    ...extra,
  };
}

describe("health in the status item", () => {
  it("says slow in the warning colour, with what to change and the figures", () => {
    const view = statusView("running", stats({ health: slow }), true);
    assertMatch(view, { text: "$(warning) aicockpit: slow: 6.1 s to first token on this machine", warning: true, error: false });
    const tooltip = view.tooltip.split("\n");
    assert.equal(tooltip[0], "slow: 6.1 s to first token on this machine (ghost text, for 42 s)");
    assertIncludes(tooltip, `What to change: ${slow.fix}`);
    assertIncludes(tooltip, "Ghost text prompt: prefix 1,200 + suffix 300 + context 512 + header 64 tokens, up to 16 new; target 1.5 s cold, 300 ms cached (measured)");
    assertIncludes(tooltip, "Ghost text speed: prefill 210 tokens/s, decode 28 ms/token, first token 6.1 s (p50 of 12)");
  });
  it("says which backend is unreachable, naming a role other than ghost text", () => {
    assert.equal(statusView("running", stats({ health: unreachable }), true).text, "$(warning) aicockpit: backend unreachable: team-fim");
    const chat = stats({ health: ok });
    chat.roles!.chat = { profile: "team-chat", health: { ...unreachable, message: "backend unreachable: team-chat" } };
    assert.equal(statusView("running", chat, true).text, "$(warning) aicockpit: chat: backend unreachable: team-chat");
    // Ghost text's trouble comes first, whatever the order of the roles.
    const both = stats({ health: slow });
    both.roles = { chat: chat.roles!.chat, completion: both.roles!.completion };
    assert.deepEqual(troubles(both.roles).map((t) => t.role), ["completion", "chat"]);
    assertIncludes(statusView("running", both, true).text, "slow: 6.1 s");
  });
  it("goes back to ready by itself when the health is ok again", () => {
    const view = statusView("running", stats({ health: ok }), true);
    assertMatch(view, { text: "$(sparkle) aicockpit ready · 412 ms · cache 50%", error: false });
    assert.ok(!view.warning);
    assertIncludes(view.tooltip.split("\n"), "Ghost text speed: prefill 210 tokens/s, decode 28 ms/token, first token 6.1 s (p50 of 12)");
  });
  it("leaves loading and a failed engine to the engine's own view", () => {
    const loading = stats({ health: { state: "loading", message: "loading tiny" } });
    loading.engine = { state: "loading", state_seconds: 4 };
    assertIncludes(statusView("running", loading, true).text, "loading model 4 s");
    const failed = stats({ health: { state: "unavailable", message: "no engine" } });
    failed.engine = { state: "failed", error: "oom" };
    assertMatch(statusView("running", failed, true), { error: true, tooltip: "oom" });
  });
  it("lists the trouble's figures in the menu", () => {
    const lines = statsLines(stats({ health: slow }));
    assertIncludes(lines, "Ghost text prompt: prefix 1,200 + suffix 300 + context 512 + header 64 tokens, up to 16 new; target 1.5 s cold, 300 ms cached (measured)");
    assertIncludes(lines, "Last completion: 412 ms");
  });
});

describe("latency", () => {
  const trace = (id: number, outcome: string, answered: number, kind = "completion") => ({ id, kind, outcome, timings_ms: { answered } });
  it("never shows a timed-out or failed request as a latency", () => {
    const timedOut = stats({ health: ok }, { last_completion: trace(7, "timed_out", 2000) });
    assert.equal(statusView("running", timedOut, true).text, "$(sparkle) aicockpit ready · timed out · cache 50%");
    assertExcludes(statusView("running", timedOut, true).tooltip, "2000");
    assertIncludes(statsLines(timedOut), "Last completion: timed out");
    const failed = stats({ health: ok }, { last_completion: trace(8, "error", 31) });
    assertIncludes(statusView("running", failed, true).text, "ready · failed ·");
  });
  it("takes the last answered or failed ghost-text request among the traces", () => {
    assert.deepEqual(latencyAfter(undefined, [trace(1, "served", 300), trace(2, "timed_out", 2000), trace(3, "cancelled", 5)]), { note: "timed out" });
    assert.deepEqual(latencyAfter({ ms: 80 }, [trace(4, "superseded", 9), trace(5, "empty", 40), trace(6, "served", 20, "next_edit")]), { ms: 80 });
    assert.deepEqual(latencyAfter({ note: "timed out" }, [trace(7, "cache_hit", 3)]), { ms: 3 });
    assert.deepEqual(latencyAfter(undefined, [trace(8, "reused", 120.6)]), { ms: 120.6 });
  });
  it("reads the traces since the last poll, and a long request that finished under an older id", () => {
    const late = trace(5, "timed_out", 2000);
    const polled: Stats = { traces: [trace(7, "served", 90)], last_completion: late };
    assert.deepEqual(newTraces(polled, 3, 6).map((t) => t.id), [7, 5]);
    assert.deepEqual(newTraces(polled, 5, 6).map((t) => t.id), [7]); // seen at the last poll
    assert.deepEqual(newTraces({ ...polled, last_completion: polled.traces![0] }, 3, 6).map((t) => t.id), [7]);
    // The first poll asks for no traces: the last completion alone.
    assert.deepEqual(newTraces(polled, undefined, undefined).map((t) => t.id), [5]);
  });
});

describe("budget, speed and fixes", () => {
  it("formats what it has", () => {
    assert.equal(budgetText({ max_tokens: 32, source: "configured" }), "up to 32 new (configured)");
    assert.equal(budgetText(undefined), undefined);
    assert.equal(speedText({ prefill_tokens_per_s: null, decode_ms_per_token: null, first_token_ms_p50: null, samples: 0 }), "not measured yet");
    assert.equal(speedText(null), "not measured yet");
    assert.equal(speedText(undefined), undefined); // an older server
  });
  it("finds the settings a fix names", () => {
    const known = new Set(["completion.latency_target_ms", "completion.max_tokens"]);
    assert.deepEqual(settingsNamed(slow.fix, (name) => known.has(name)), ["completion.latency_target_ms", "completion.max_tokens"]);
    assert.deepEqual(settingsNamed("a GPU, e.g. a.b.c", (name) => known.has(name)), []);
  });
});
