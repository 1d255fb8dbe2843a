// What the status bar item says, from `aicockpit/stats` and the client's own state.

export interface EngineStats {
  state?: string;
  model?: string;
  error?: string | null;
  /** Where the user fixes a failure: a server setting ("engine.model") or the flag that overrides it. */
  fix?: { setting?: string; flag?: string };
  /** Seconds in the current state, by the server's clock. */
  state_seconds?: number;
}

export interface RequestTrace {
  kind?: string;
  outcome?: string;
  timings_ms?: Record<string, number>;
}

export interface RoleStats {
  profile?: string;
  fallback?: string | null;
  switching_to?: string | null;
}

export interface Stats {
  engine?: EngineStats;
  /** Which profile serves each role (completion, edit, chat), and each profile's backend. */
  roles?: Record<string, RoleStats>;
  backends?: Record<string, EngineStats & { backend?: string }>;
  prefix_cache_hit_ratio?: number;
  requests?: number;
  /** Suggestions the editor reported accepted (the item's command). */
  accepted?: number;
  last_request?: RequestTrace | null;
  /** The last ghost-text request (next edits and prefetches come between them). */
  last_completion?: RequestTrace | null;
  /** Next-edit suggestions: how many were made, taken and dismissed (aicockpit/nextEdit). */
  next_edit?: { suggested?: number; accepted?: number; rejected?: number };
  stages_ms?: Record<string, Record<string, number>>;
}

export type ClientPhase = "starting" | "running" | "restarting" | "stopped" | "failed";

export interface StatusView {
  text: string;
  tooltip: string;
  error: boolean;
}

export function formatPercent(ratio: number | undefined): string {
  return `${Math.round((ratio ?? 0) * 100)}%`;
}

/** Latency of the last request when it was a completion, in ms. */
export function lastLatencyMs(stats: Stats): number | undefined {
  const last = stats.last_completion ?? stats.last_request;
  if (last?.kind !== undefined && last.kind !== "completion") return undefined;
  const ms = last?.timings_ms?.answered;
  return typeof ms === "number" ? ms : undefined;
}

/** The backend that serves ghost text: the completion role's profile, else the embedded engine. */
export function completionBackend(stats: Stats): EngineStats | undefined {
  const profile = stats.roles?.completion?.profile;
  return (profile && stats.backends?.[profile]) || stats.engine;
}

export function statusView(
  phase: ClientPhase,
  stats: Stats | undefined,
  ghostText: boolean,
  loadingSeconds = 0,
  detail = "",
): StatusView {
  if (phase === "failed") {
    return { text: "$(error) aicockpit: server failed", tooltip: detail || "The server could not start.", error: true };
  }
  if (phase === "stopped") return { text: "$(debug-disconnect) aicockpit: stopped", tooltip: "The server is stopped.", error: false };
  const engine = stats ? completionBackend(stats) : undefined;
  if (phase === "starting" || phase === "restarting" || !stats || !engine) {
    return { text: `$(sync~spin) aicockpit: ${phase === "restarting" ? "restarting" : "starting"}`, tooltip: detail || "Starting the server.", error: false };
  }
  const model = engine.model ?? "";
  const off = ghostText ? "" : " (ghost text off)";
  switch (engine.state) {
    case "loading": {
      const seconds = engine.state_seconds ?? loadingSeconds;
      return {
        text: `$(sync~spin) aicockpit: loading model ${seconds > 0 ? `${Math.round(seconds)} s` : ""}`.trimEnd(),
        tooltip: `Loading ${model}`,
        error: false,
      };
    }
    case "failed": {
      // A profile's backend entry carries no fix; the embedded engine's (same error) does.
      const fix = engine.fix ?? (engine.error === stats.engine?.error ? stats.engine?.fix : undefined);
      return {
        text: `$(error) aicockpit: ${fix?.setting || fix?.flag ? "model not loaded" : "engine error"}`,
        tooltip: engine.error ?? "The engine failed to start.",
        error: true,
      };
    }
    case "ready": {
      const latency = lastLatencyMs(stats);
      const parts = [`$(${ghostText ? "sparkle" : "circle-slash"}) aicockpit ready${off}`];
      if (latency !== undefined) parts.push(`${Math.round(latency)} ms`);
      parts.push(`cache ${formatPercent(stats.prefix_cache_hit_ratio)}`);
      return {
        text: parts.join(" · "),
        tooltip:
          `${model}: ready. Last completion ${latency !== undefined ? `${Math.round(latency)} ms` : "none yet"}, ` +
          `prefix-cache hit ratio ${formatPercent(stats.prefix_cache_hit_ratio)}. Click for stats and actions.`,
        error: false,
      };
    }
    default:
      return { text: `$(circle-outline) aicockpit: ${engine.state ?? "unknown"}`, tooltip: model, error: false };
  }
}

/** Lines for the stats quick pick: the figures a user asks about first. */
export function statsLines(stats: Stats): string[] {
  const engine = completionBackend(stats);
  const lines = [
    `Engine: ${engine?.state ?? "unknown"} (${engine?.model ?? "?"})`,
    ...Object.entries(stats.roles ?? {}).map(
      ([role, r]) => `Role ${role}: ${r.profile ?? "default"}${r.switching_to ? ` (switching to ${r.switching_to})` : ""}`,
    ),
    `Requests: ${stats.requests ?? 0}, suggestions accepted: ${stats.accepted ?? 0}`,
    `Prefix-cache hit ratio: ${formatPercent(stats.prefix_cache_hit_ratio)}`,
  ];
  const next = stats.next_edit;
  if (next?.suggested) {
    lines.push(`Next edits: ${next.suggested} suggested, ${next.accepted ?? 0} accepted, ${next.rejected ?? 0} dismissed`);
  }
  const latency = lastLatencyMs(stats);
  if (latency !== undefined) lines.push(`Last completion: ${Math.round(latency)} ms (${(stats.last_completion ?? stats.last_request)?.outcome ?? "?"})`);
  const answered = stats.stages_ms?.answered;
  if (answered) lines.push(`Answered p50/p95: ${Math.round(answered.p50 ?? 0)} / ${Math.round(answered.p95 ?? 0)} ms`);
  if (engine?.error) lines.push(`Error: ${engine.error}`);
  return lines;
}

export interface EngineFailureView {
  message: string;
  /** The VS Code setting that fixes it, when known. */
  setting?: string;
}

/**
 * The notification for a failed engine: the server's sentence, with its config names
 * spelled as VS Code settings. `flagSetting` is the client setting that holds the
 * overriding flag (serverArgs or serverCommand).
 */
export function engineFailureView(engine: EngineStats, flagSetting: string): EngineFailureView {
  const error = (engine.error ?? "").trim() || "unknown error";
  const setting = engine.fix?.setting;
  if (setting) {
    const vscodeSetting = `aicockpit.${setting}`;
    const named = error.includes(setting);
    const text = named ? error.split(setting).join(vscodeSetting) : `${error}; change ${vscodeSetting}`;
    return { message: `aicockpit cannot load the model: ${text}.`, setting: vscodeSetting };
  }
  const flag = engine.fix?.flag;
  if (flag) {
    return {
      message: `aicockpit cannot load the model: ${error} (the model is given by the ${flag} flag in ${flagSetting}).`,
      setting: flagSetting,
    };
  }
  return { message: `aicockpit: the engine failed to start: ${error}` };
}
