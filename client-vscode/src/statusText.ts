// What the status bar item says, from `aicockpit/stats` and the client's own state.
import {
  budgetText,
  latencyAfter,
  latencyLabel,
  roleName,
  speedText,
  troubles,
  troubleText,
  type CompletionTrace,
  type LatencyShown,
  type RoleHealthStats,
} from "./health";

export interface EngineStats {
  state?: string;
  model?: string;
  error?: string | null;
  /** Where the user fixes a failure: a server setting ("engine.model") or the flag that overrides it. */
  fix?: { setting?: string; flag?: string };
  /** Seconds in the current state, by the server's clock. */
  state_seconds?: number;
}

export type RequestTrace = CompletionTrace;

export interface RoleStats extends RoleHealthStats {
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
  /** With `{"traces_since": N}`: the kept request traces after id N, oldest first. */
  traces?: RequestTrace[];
}

export type ClientPhase = "starting" | "running" | "restarting" | "stopped" | "failed";

export interface StatusView {
  text: string;
  tooltip: string;
  error: boolean;
  /** Answers are late or missing (a role's health): the warning colour. */
  warning?: boolean;
}

export function formatPercent(ratio: number | undefined): string {
  return `${Math.round((ratio ?? 0) * 100)}%`;
}

/** What the last ghost-text request shows: its latency only when it was answered. */
export function lastLatency(stats: Stats): LatencyShown | undefined {
  const last = stats.last_completion ?? stats.last_request;
  return last ? latencyAfter(undefined, [last]) : undefined;
}

/**
 * The traces finished since the last poll, oldest first: a timed-out request between two polls
 * counts even when a cancelled one came after it. Traces are numbered when they start and kept
 * when they finish, so a long request may finish under an id already passed: the last
 * completion (the newest finished) closes the list when it was not seen yet.
 */
export function newTraces(stats: Stats, lastSeenCompletion: number | undefined, since: number | undefined): RequestTrace[] {
  const traces = since === undefined ? [] : [...(stats.traces ?? [])];
  const last = stats.last_completion;
  if (last && last.id !== lastSeenCompletion && !traces.some((t) => t.id === last.id)) traces.push(last);
  return traces;
}

/** A role's prompt budget and measured speed, as tooltip or menu lines (none from an older server). */
function figureLines(stats: Stats, role = "completion"): string[] {
  const entry = stats.roles?.[role];
  const budget = budgetText(entry?.budget);
  const speed = speedText(entry?.speed);
  const name = roleName(role).replace(/^./, (c) => c.toUpperCase());
  return [
    ...(budget ? [`${name} prompt: ${budget}`] : []),
    ...(speed ? [`${name} speed: ${speed}`] : []),
  ];
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
  latency: LatencyShown | undefined = stats && lastLatency(stats),
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
  const [worst] = troubles(stats.roles);
  if (worst) {
    const seconds = worst.health.since_s;
    return {
      text: `$(warning) aicockpit: ${troubleText(worst)}`,
      tooltip: [
        `${worst.health.message || worst.health.state} (${roleName(worst.role)}${seconds !== undefined ? `, for ${Math.round(seconds)} s` : ""})`,
        ...(worst.health.fix ? [`What to change: ${worst.health.fix}`] : []),
        ...figureLines(stats),
        "It clears by itself when answers come back in time. Click for the menu.",
      ].join("\n"),
      error: false,
      warning: true,
    };
  }
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
      const last = latencyLabel(latency);
      const parts = [`$(${ghostText ? "sparkle" : "circle-slash"}) aicockpit ready${off}`];
      if (last !== undefined) parts.push(last);
      parts.push(`cache ${formatPercent(stats.prefix_cache_hit_ratio)}`);
      return {
        text: parts.join(" · "),
        tooltip: [
          `${model}: ready. Last completion ${last ?? "none yet"}, ` +
            `prefix-cache hit ratio ${formatPercent(stats.prefix_cache_hit_ratio)}.`,
          ...figureLines(stats),
          "Click for stats and actions.",
        ].join("\n"),
        error: false,
      };
    }
    default:
      return { text: `$(circle-outline) aicockpit: ${engine.state ?? "unknown"}`, tooltip: model, error: false };
  }
}

/** Lines for the stats quick pick: the figures a user asks about first. */
export function statsLines(stats: Stats, latency: LatencyShown | undefined = lastLatency(stats)): string[] {
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
  const last = latencyLabel(latency);
  if (last !== undefined) lines.push(`Last completion: ${last}`);
  for (const role of ["completion", "next_edit"]) lines.push(...figureLines(stats, role));
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
