// Splits the `aicockpit` settings into what the server decodes (its config tree, sent as
// initializationOptions and workspace/didChangeConfiguration) and the client's own
// `aicockpit.client.*` settings, which the server would reject as unknown fields.

export const CLIENT_SECTION = "client";

export type Settings = Record<string, unknown>;

/** The server's config tree: every section except the client's, as plain JSON. */
export function serverSettings(all: Settings): Settings {
  const plain = JSON.parse(JSON.stringify(all)) as Settings;
  delete plain[CLIENT_SECTION];
  return plain;
}

export interface ClientSettings {
  serverCommand: string[];
  pythonPath: string;
  serverArgs: string[];
  serverEnv: Record<string, string>;
  statsIntervalMs: number;
  maxRestarts: number;
  reviewEdits: boolean;
}

export const CLIENT_DEFAULTS: ClientSettings = {
  serverCommand: [],
  pythonPath: "",
  serverArgs: [],
  serverEnv: {},
  statsIntervalMs: 2000,
  maxRestarts: 5,
  reviewEdits: true,
};

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
}

/** The client section with wrong types replaced by defaults. */
export function clientSettings(all: Settings): ClientSettings {
  const raw = (all[CLIENT_SECTION] ?? {}) as Record<string, unknown>;
  const env = raw.serverEnv;
  const number = (value: unknown, fallback: number, min: number): number =>
    typeof value === "number" && Number.isFinite(value) ? Math.max(min, value) : fallback;
  return {
    serverCommand: strings(raw.serverCommand) ?? CLIENT_DEFAULTS.serverCommand,
    pythonPath: typeof raw.pythonPath === "string" ? raw.pythonPath.trim() : "",
    serverArgs: strings(raw.serverArgs) ?? CLIENT_DEFAULTS.serverArgs,
    serverEnv:
      env && typeof env === "object" && !Array.isArray(env)
        ? Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string"))
        : {},
    statsIntervalMs: number(raw.statsIntervalMs, CLIENT_DEFAULTS.statsIntervalMs, 250),
    maxRestarts: number(raw.maxRestarts, CLIENT_DEFAULTS.maxRestarts, 0),
    reviewEdits: typeof raw.reviewEdits === "boolean" ? raw.reviewEdits : CLIENT_DEFAULTS.reviewEdits,
  };
}

export interface ServerLaunch {
  command: string;
  args: string[];
  /** Where the command came from, for messages. */
  source: string;
  /** The setting a user changes when this command is wrong. */
  setting: string;
}

export interface LaunchHints {
  /** The Python extension's interpreter (python.defaultInterpreterPath), if any. */
  pythonInterpreter?: string;
  /** Workspace folder paths, searched for .venv/bin/aicockpit. */
  workspaceFolders: string[];
  exists(path: string): boolean;
  platform: NodeJS.Platform;
}

/** Which command starts `aicockpit serve`, in the documented order of preference. */
export function resolveLaunch(settings: ClientSettings, hints: LaunchHints): ServerLaunch {
  const extra = settings.serverArgs;
  if (settings.serverCommand.length > 0) {
    const [command, ...args] = settings.serverCommand;
    return { command, args: [...args, ...extra], source: "aicockpit.client.serverCommand", setting: COMMAND_SETTING };
  }
  const module = (python: string, source: string, setting = COMMAND_SETTING): ServerLaunch => ({
    command: python,
    args: ["-m", "aicockpit", "serve", ...extra],
    source,
    setting,
  });
  if (settings.pythonPath) return module(settings.pythonPath, "aicockpit.client.pythonPath", PYTHON_SETTING);
  const windows = hints.platform === "win32";
  for (const folder of hints.workspaceFolders) {
    const venv = windows ? `${folder}\\.venv\\Scripts\\aicockpit.exe` : `${folder}/.venv/bin/aicockpit`;
    if (hints.exists(venv)) {
      return { command: venv, args: ["serve", ...extra], source: "the workspace's .venv", setting: COMMAND_SETTING };
    }
  }
  const interpreter = hints.pythonInterpreter?.trim();
  if (interpreter && interpreter !== "python" && interpreter !== "python3") {
    return module(interpreter, "python.defaultInterpreterPath");
  }
  return { command: "aicockpit", args: ["serve", ...extra], source: "the PATH", setting: COMMAND_SETTING };
}

export const COMMAND_SETTING = "aicockpit.client.serverCommand";
export const PYTHON_SETTING = "aicockpit.client.pythonPath";

export interface ExecutableHints {
  /** The PATH the server would be started with. */
  path: string;
  isExecutable(file: string): boolean;
  platform: NodeJS.Platform;
}

/**
 * The file `command` runs, found the way spawn() finds it, or undefined when there is
 * none: checked before starting, so a wrong command is one clear message, not a raw
 * spawn error followed by a round of restarts.
 */
export function findExecutable(command: string, hints: ExecutableHints): string | undefined {
  if (!command.trim()) return undefined;
  const windows = hints.platform === "win32";
  const separator = windows ? /[\\/]/ : /\//;
  const extensions = windows ? ["", ".exe", ".cmd", ".bat"] : [""];
  const candidates = (base: string) => extensions.map((ext) => base + ext);
  if (separator.test(command)) return candidates(command).find((file) => hints.isExecutable(file));
  for (const folder of hints.path.split(windows ? ";" : ":")) {
    if (!folder) continue;
    const found = candidates(`${folder}${windows ? "\\" : "/"}${command}`).find((file) => hints.isExecutable(file));
    if (found) return found;
  }
  return undefined;
}
