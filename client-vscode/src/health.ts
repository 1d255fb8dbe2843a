// A role's health, prompt budget and measured speed (`aicockpit/stats`, `roles.<role>`), and
// the latency a status item may show: what the user sees when answers are late, a backend
// cannot be reached or requests fail, what to change, and the figures behind it.

export interface RoleHealth {
  /** ok | slow | unreachable | failing | loading | unavailable */
  state?: string;
  /** One line a status bar shows as it is; "" when ok. */
  message?: string;
  /** What to change, one sentence; "" when ok. */
  fix?: string;
  since_s?: number;
}

export interface RoleBudget {
  source?: string;
  prefix_tokens?: number;
  suffix_tokens?: number;
  header_tokens?: number;
  context_tokens?: number;
  max_tokens?: number;
  latency_target_ms?: { cold?: number; cached?: number };
}

export interface RoleSpeed {
  prefill_tokens_per_s?: number | null;
  decode_ms_per_token?: number | null;
  first_token_ms_p50?: number | null;
  samples?: number;
}

export interface RoleHealthStats {
  health?: RoleHealth;
  budget?: RoleBudget;
  speed?: RoleSpeed | null;
}

/** Answers late or missing, and back by themselves when the backend recovers: a warning. */
const TROUBLED = new Set(["slow", "unreachable", "failing"]);
/** Ghost text first: it is what the status item is about. */
const ROLE_ORDER = ["completion", "next_edit", "edit", "chat"];

export interface Trouble {
  role: string;
  health: RoleHealth;
}

/** The roles in trouble, ghost text's first. */
export function troubles(roles: Record<string, RoleHealthStats> | undefined): Trouble[] {
  const names = Object.keys(roles ?? {}).sort(
    (a, b) => (ROLE_ORDER.indexOf(a) + 1 || 99) - (ROLE_ORDER.indexOf(b) + 1 || 99),
  );
  return names
    .map((role) => ({ role, health: roles?.[role]?.health ?? {} }))
    .filter((t) => TROUBLED.has(t.health.state ?? "ok"));
}

/** A role as the user knows it: the completion role is ghost text. */
export function roleName(role: string): string {
  return role === "completion" ? "ghost text" : role.replace("_", " ");
}

/** The status item's words: the server's line, with the role named unless it is ghost text's. */
export function troubleText(trouble: Trouble): string {
  const message = trouble.health.message || trouble.health.state || "";
  return trouble.role === "completion" ? message : `${roleName(trouble.role)}: ${message}`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

const count = (n: number) => Math.round(n).toLocaleString("en-US");

/** "prefix 1,200 + suffix 300 + context 512 + header 64 tokens, up to 16 new; target 1.5 s cold, 300 ms cached (measured)" */
export function budgetText(budget: RoleBudget | undefined): string | undefined {
  if (!budget) return undefined;
  const parts = (
    [
      ["prefix", budget.prefix_tokens],
      ["suffix", budget.suffix_tokens],
      ["context", budget.context_tokens],
      ["header", budget.header_tokens],
    ] as const
  )
    .filter(([, n]) => typeof n === "number")
    .map(([name, n]) => `${name} ${count(n as number)}`);
  let text = parts.length ? `${parts.join(" + ")} tokens` : "";
  if (typeof budget.max_tokens === "number") text += `${text ? ", " : ""}up to ${count(budget.max_tokens)} new`;
  const target = budget.latency_target_ms;
  if (target && (target.cold !== undefined || target.cached !== undefined)) {
    const sides = [
      target.cold !== undefined ? `${formatMs(target.cold)} cold` : "",
      target.cached !== undefined ? `${formatMs(target.cached)} cached` : "",
    ].filter(Boolean);
    text += `${text ? "; " : ""}target ${sides.join(", ")}`;
  }
  if (!text) return undefined;
  return budget.source ? `${text} (${budget.source})` : text;
}

/** "prefill 210 tokens/s, decode 28 ms/token, first token 6.1 s (p50 of 12)", or "not measured yet". */
export function speedText(speed: RoleSpeed | null | undefined): string | undefined {
  if (speed === undefined) return undefined;
  const parts: string[] = [];
  if (typeof speed?.prefill_tokens_per_s === "number") parts.push(`prefill ${count(speed.prefill_tokens_per_s)} tokens/s`);
  if (typeof speed?.decode_ms_per_token === "number") parts.push(`decode ${speed.decode_ms_per_token.toFixed(0)} ms/token`);
  if (typeof speed?.first_token_ms_p50 === "number") {
    parts.push(`first token ${formatMs(speed.first_token_ms_p50)} (p50 of ${speed.samples ?? 0})`);
  }
  return parts.length ? parts.join(", ") : "not measured yet";
}

/** The settings a fix sentence names (`completion.latency_target_ms`), as server setting names. */
export function settingsNamed(fix: string, isSetting: (name: string) => boolean): string[] {
  const found = fix.match(/\b[a-z_]+(?:\.[a-z_]+)+\b/g) ?? [];
  return [...new Set(found)].filter(isSetting);
}

/** What the status item shows of the last completion: its latency, or what went wrong. */
export type LatencyShown = { ms: number } | { note: "timed out" | "failed" };

/** Only these outcomes have a latency: the user got the model's answer (served, from the cache, shared). */
const ANSWERED = new Set(["served", "cache_hit", "reused"]);
/** A request that ended without an answer the user could use, so no latency. */
const FAILED: Record<string, "timed out" | "failed"> = {
  timed_out: "timed out",
  error: "failed",
  engine_unavailable: "failed",
};

export interface CompletionTrace {
  id?: number;
  kind?: string;
  outcome?: string;
  timings_ms?: Record<string, number>;
}

/**
 * The latency to show after these traces (oldest first): the last ghost-text request that
 * was answered or failed decides; one cancelled, superseded or empty leaves `previous`.
 */
export function latencyAfter(previous: LatencyShown | undefined, traces: readonly CompletionTrace[]): LatencyShown | undefined {
  let shown = previous;
  for (const trace of traces) {
    if (trace.kind !== undefined && trace.kind !== "completion") continue;
    const outcome = trace.outcome ?? "";
    const ms = trace.timings_ms?.answered;
    if (ANSWERED.has(outcome) && typeof ms === "number") shown = { ms };
    else if (outcome in FAILED) shown = { note: FAILED[outcome] };
  }
  return shown;
}

export function latencyLabel(latency: LatencyShown | undefined): string | undefined {
  if (!latency) return undefined;
  return "ms" in latency ? `${Math.round(latency.ms)} ms` : latency.note;
}
