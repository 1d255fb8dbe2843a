// Why did the server fail? Turns a spawn error and the tail of the server's stderr
// into one sentence a user can act on.

export type FailureKind = "not-found" | "missing-package" | "missing-engine" | "engine" | "crash";

export interface Failure {
  kind: FailureKind;
  message: string;
}

/** The server command does not exist: what was looked for, and which setting to change. */
export function notFoundMessage(launch: { command: string; source: string; setting: string }): string {
  const what =
    launch.source === "the PATH"
      ? "`aicockpit` was not found on the PATH (nor in the workspace's .venv)"
      : `the server command \`${launch.command}\` (from ${launch.source}) was not found or is not executable`;
  const fix = launch.setting.endsWith(".pythonPath")
    ? `Set ${launch.setting} to a Python that has aicockpit installed.`
    : `Set ${launch.setting} to the aicockpit of your environment, e.g. ["/path/to/.venv/bin/aicockpit", "serve"].`;
  return `aicockpit cannot start: ${what}. ${fix}`;
}

export function classifyFailure(launchText: string, stderrTail: string[], spawnError?: NodeJS.ErrnoException): Failure {
  if (spawnError && (spawnError.code === "ENOENT" || spawnError.code === "EACCES")) {
    return {
      kind: "not-found",
      message:
        `aicockpit: cannot start the server: \`${launchText}\` was not found or is not executable. ` +
        "Install aicockpit (pip install aicockpit) or set aicockpit.client.serverCommand / pythonPath.",
    };
  }
  const text = stderrTail.join("\n");
  const missing = /No module named '?([A-Za-z0-9_.]+)'?/.exec(text);
  const module = missing?.[1].split(".")[0];
  if (module === "vllm") {
    return {
      kind: "missing-engine",
      message:
        "aicockpit: vLLM is not installed in the server's Python environment: " +
        'pip install "aicockpit[gpu]" (NVIDIA) or "aicockpit[cpu]".',
    };
  }
  if (module) {
    const what = module === "aicockpit" ? "the aicockpit package is" : `\`${module}\` (a dependency of aicockpit) is`;
    return {
      kind: "missing-package",
      message:
        `aicockpit: ${what} not installed for \`${launchText}\`. ` +
        "Install aicockpit in that environment (pip install aicockpit) or set aicockpit.client.pythonPath.",
    };
  }
  const engine = stderrTail.filter((line) => /engine failed|EngineError|RuntimeError|OutOfMemory|CUDA/i.test(line)).pop();
  if (engine) return { kind: "engine", message: `aicockpit: the engine failed: ${lastPart(engine)}` };
  const last = [...stderrTail].reverse().find((line) => line.trim() !== "");
  return {
    kind: "crash",
    message: `aicockpit: the server stopped${last ? `: ${lastPart(last)}` : ""}`,
  };
}

function lastPart(line: string): string {
  const trimmed = line.trim();
  return trimmed.length > 300 ? `${trimmed.slice(0, 297)}...` : trimmed;
}

/** Delay before restart number `attempt` (1-based): 1 s, 2 s, 4 s ... capped. */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 30000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Restarts inside a sliding window: crashes older than `windowMs` are forgiven. */
export class RestartBudget {
  private crashes: number[] = [];

  constructor(
    private readonly max: number,
    private readonly windowMs = 180000,
  ) {}

  /** Records a crash at `now`; returns the attempt number, or undefined when over budget. */
  next(now: number): number | undefined {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    return this.crashes.length <= this.max ? this.crashes.length : undefined;
  }

  reset(): void {
    this.crashes = [];
  }
}

/** A bounded list of the latest lines (the server's stderr). */
export class LineTail {
  private lines: string[] = [];

  constructor(private readonly keep = 50) {}

  push(text: string): void {
    for (const line of text.split(/\r?\n/)) {
      if (line === "") continue;
      this.lines.push(line);
    }
    if (this.lines.length > this.keep) this.lines = this.lines.slice(-this.keep);
  }

  get(): string[] {
    return [...this.lines];
  }

  clear(): void {
    this.lines = [];
  }
}
