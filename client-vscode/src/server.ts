// Starts `aicockpit serve`, keeps it running (restart with backoff after a crash) and
// says why it failed. One LanguageClient per server process.
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import * as vscode from "vscode";
import {
  type ClientCapabilities,
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  type FeatureState,
  LanguageClient,
  type LanguageClientOptions,
  type Middleware,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
  type StaticFeature,
} from "vscode-languageclient/node";
import { classifyFailure, LineTail, RestartBudget, backoffMs, notFoundMessage } from "./failure";
import {
  clientSettings,
  findExecutable,
  resolveLaunch,
  serverSettings,
  type ServerLaunch,
  type Settings,
} from "./settings";
import type { ClientPhase } from "./statusText";

export const SECTION = "aicockpit";

function allSettings(): Settings {
  return vscode.workspace.getConfiguration(SECTION) as unknown as Settings;
}

/** Server stderr goes to the output channel, and its last lines are kept to explain a failure. */
function stderrPipe(tail: LineTail) {
  return (input: NodeJS.ReadableStream, channel: vscode.LogOutputChannel) => {
    readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", (line) => {
      tail.push(line);
      // The server's log lines carry their own level.
      channel.info(line);
    });
  };
}

/**
 * Tells the server that this client shows the engine's state (the status bar, from
 * aicockpit/stats) and the progress of what it asks (on the workDoneToken it passes):
 * the server then makes no progress indicator and sends no engine message of its own,
 * which would be a second status item with a different clock, or a second toast.
 */
class OwnStatusFeature implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    const experimental = (capabilities.experimental ?? {}) as Record<string, unknown>;
    capabilities.experimental = { ...experimental, aicockpit: { ownStatus: true } };
  }
  initialize(): void {}
  getState(): FeatureState {
    return { kind: "static" };
  }
  clear(): void {}
}

/** Opens the Settings editor at one setting, on the tab (User or Workspace) that sets it. */
export async function openSetting(id: string): Promise<void> {
  const inspected = vscode.workspace.getConfiguration().inspect(id);
  const inWorkspace = inspected?.workspaceValue !== undefined || inspected?.workspaceFolderValue !== undefined;
  if (inWorkspace) {
    try {
      await vscode.commands.executeCommand("workbench.action.openWorkspaceSettings", { query: id });
      return;
    } catch {
      // an older VS Code without options for this command: the User tab below
    }
  }
  await vscode.commands.executeCommand("workbench.action.openSettings", id);
}

export class ServerSupervisor implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  private readonly tail = new LineTail(80);
  private budget: RestartBudget;
  private current: LanguageClient | undefined;
  /** The client whose start() has not settled: its failure is handled there, once. */
  private starting: LanguageClient | undefined;
  private launched: ServerLaunch | undefined;
  /** Hooks other parts of the extension add to the client (reviewable code actions). */
  middleware: Middleware = {};
  private readonly failed = new WeakSet<LanguageClient>();
  private readonly phaseEmitter = new vscode.EventEmitter<ClientPhase>();
  readonly onPhase = this.phaseEmitter.event;
  private readonly clientEmitter = new vscode.EventEmitter<LanguageClient>();
  /** Fires with each new running client (after a start or a restart). */
  readonly onClient = this.clientEmitter.event;
  phase: ClientPhase = "stopped";
  failure = "";
  private disposables: vscode.Disposable[] = [];
  private stopping = false;

  constructor() {
    this.output = vscode.window.createOutputChannel("aicockpit", { log: true });
    this.budget = new RestartBudget(clientSettings(allSettings()).maxRestarts);
    this.disposables.push(
      this.output,
      vscode.workspace.onDidChangeConfiguration((event) => this.onConfiguration(event)),
    );
  }

  get client(): LanguageClient | undefined {
    return this.current?.state === State.Running ? this.current : undefined;
  }

  private setPhase(phase: ClientPhase, failure = ""): void {
    this.phase = phase;
    this.failure = failure;
    this.phaseEmitter.fire(phase);
  }

  private launchCommand(): ServerLaunch {
    const python = vscode.workspace.getConfiguration("python").get<string>("defaultInterpreterPath");
    return resolveLaunch(clientSettings(allSettings()), {
      pythonInterpreter: python,
      workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      exists: (path) => fs.existsSync(path),
      platform: process.platform,
    });
  }

  private serverEnv(): NodeJS.ProcessEnv {
    return { ...process.env, ...clientSettings(allSettings()).serverEnv };
  }

  private cwd(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  /** Whether `launch.command` exists and can run, looked up the way spawn() will. */
  private executableFound(launch: ServerLaunch): boolean {
    const env = this.serverEnv();
    const cwd = this.cwd() ?? process.cwd();
    return (
      findExecutable(launch.command, {
        path: env.PATH ?? env.Path ?? "",
        platform: process.platform,
        isExecutable: (file) => {
          try {
            const full = path.resolve(cwd, file);
            fs.accessSync(full, fs.constants.X_OK);
            return fs.statSync(full).isFile();
          } catch {
            return false;
          }
        },
      }) !== undefined
    );
  }

  private build(launch: ServerLaunch): LanguageClient {
    const serverOptions: ServerOptions = {
      command: launch.command,
      args: launch.args,
      options: { cwd: this.cwd(), env: this.serverEnv() },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel: this.output,
      // Problems are explained in one notification each (onFailure, the status bar); the
      // log never pops up by itself.
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      stdioOptions: { stdout: stderrPipe(this.tail), stderr: stderrPipe(this.tail) },
      initializationOptions: serverSettings(allSettings()),
      initializationFailedHandler: (error) => {
        this.output.error(`initialize failed: ${String(error)}`);
        return false;
      },
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => {
          // A failed start is explained where start() fails; otherwise let the process's
          // last stderr lines arrive before explaining the failure.
          if (client !== this.starting) setTimeout(() => this.onFailure(client), 200);
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      middleware: {
        ...this.middleware,
        // Ghost text can be switched off from the client at once (the server is told too).
        provideInlineCompletionItems: (document, position, context, token, next) =>
          vscode.workspace.getConfiguration(SECTION).get<boolean>("completion.enabled", true)
            ? next(document, position, context, token)
            : undefined,
        workspace: {
          // The server must never see the client's own section.
          configuration: async (params, token, next) => {
            const result = (await next(params, token)) as unknown[];
            return Array.isArray(result)
              ? result.map((value, i) =>
                  (params.items[i]?.section ?? SECTION) === SECTION && value && typeof value === "object"
                    ? serverSettings(value as Settings)
                    : value,
                )
              : result;
          },
        },
      },
    };
    const client = new LanguageClient("aicockpit", "aicockpit", serverOptions, clientOptions);
    client.registerFeature(new OwnStatusFeature());
    return client;
  }

  /**
   * The server failed to start or its connection closed without stop(): relaunch after a
   * backoff, or give up and say why. Each client's failure is handled once (a failed
   * start reports both a rejected start() and a closed connection).
   */
  private onFailure(client: LanguageClient, spawnError?: NodeJS.ErrnoException): void {
    if (this.stopping || client !== this.current || this.failed.has(client)) return;
    this.failed.add(client);
    const failure = classifyFailure(this.launchText(), this.tail.get(), spawnError);
    const attempt = failure.kind === "crash" || failure.kind === "engine" ? this.budget.next(Date.now()) : undefined;
    if (attempt === undefined) {
      this.output.error(failure.message);
      this.setPhase("failed", failure.message);
      void this.reportFailure(failure.message);
      return;
    }
    const delay = backoffMs(attempt);
    this.output.warn(`${failure.message}; restart ${attempt} in ${delay} ms`);
    this.setPhase("restarting", `${failure.message} (restarting in ${Math.round(delay / 1000)} s)`);
    setTimeout(() => {
      if (!this.stopping && client === this.current) void this.launch();
    }, delay);
  }

  private launchText(): string {
    return this.launched ? [this.launched.command, ...this.launched.args].join(" ") : "aicockpit serve";
  }

  /** The command does not exist: one message naming it and the setting, no restarts. */
  private reportNotFound(launch: ServerLaunch): void {
    const message = notFoundMessage(launch);
    this.output.error(message);
    this.setPhase("failed", message);
    void vscode.window.showErrorMessage(message, "Open Setting").then((choice) => {
      if (choice === "Open Setting") void openSetting(launch.setting);
    });
  }

  private async reportFailure(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, "Open Logs", "Restart", "Settings");
    if (choice === "Open Logs") this.output.show(true);
    else if (choice === "Restart") await this.restart();
    else if (choice === "Settings") await openSetting("aicockpit.client");
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.budget = new RestartBudget(clientSettings(allSettings()).maxRestarts);
    await this.launch();
  }

  private async launch(): Promise<void> {
    this.tail.clear();
    const previous = this.current;
    if (previous && previous.state === State.Stopped) previous.dispose().catch(() => undefined);
    const launch = (this.launched = this.launchCommand());
    if (!this.executableFound(launch)) {
      this.current = undefined;
      this.reportNotFound(launch);
      return;
    }
    const client = (this.current = this.starting = this.build(launch));
    this.setPhase("starting");
    client.onDidChangeState((event) => {
      if (client === this.current && event.newState === State.Running) {
        this.setPhase("running");
        this.clientEmitter.fire(client);
      }
    });
    try {
      await client.start();
      if (this.starting === client) this.starting = undefined;
    } catch (error) {
      this.output.error(`starting the server: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (this.starting === client) this.starting = undefined;
      this.onFailure(client, error as NodeJS.ErrnoException);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const client = this.current;
    this.current = undefined;
    if (client && client.state !== State.Stopped) {
      try {
        await client.stop(10000);
      } catch (error) {
        this.output.warn(`stopping the server: ${String(error)}`);
      }
    }
    this.setPhase("stopped");
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private onConfiguration(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration(SECTION)) return;
    if (event.affectsConfiguration(`${SECTION}.client`)) {
      const mustRestart = ["serverCommand", "pythonPath", "serverArgs", "serverEnv"].some((key) =>
        event.affectsConfiguration(`${SECTION}.client.${key}`),
      );
      if (mustRestart) {
        void this.restart();
        return;
      }
    }
    const client = this.client;
    if (client) {
      void client.sendNotification(DidChangeConfigurationNotification.type, { settings: serverSettings(allSettings()) });
    }
  }

  dispose(): void {
    void this.stop();
    for (const d of this.disposables) d.dispose();
  }
}
