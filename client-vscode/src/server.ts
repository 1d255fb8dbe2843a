// Starts `aicockpit serve`, keeps it running (restart with backoff after a crash) and
// says why it failed. One LanguageClient per server process.
import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";
import { classifyFailure, LineTail, RestartBudget, backoffMs } from "./failure";
import { clientSettings, resolveLaunch, serverSettings, type ServerLaunch, type Settings } from "./settings";
import type { ClientPhase } from "./statusText";

export const SECTION = "aicockpit";

function allSettings(): Settings {
  return vscode.workspace.getConfiguration(SECTION) as unknown as Settings;
}

/** An output channel that also keeps the last lines written to it (the server's stderr). */
function teeChannel(channel: vscode.LogOutputChannel, tail: LineTail): vscode.LogOutputChannel {
  const capture = new Set(["append", "appendLine", "trace", "debug", "info", "warn", "error"]);
  return new Proxy(channel, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop === "string" && capture.has(prop) && typeof value === "function") {
        return (message: unknown, ...rest: unknown[]) => {
          tail.push(message instanceof Error ? message.message : String(message));
          return (value as (...a: unknown[]) => unknown).call(target, message, ...rest);
        };
      }
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export class ServerSupervisor implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  private readonly tail = new LineTail(80);
  private readonly channel: vscode.LogOutputChannel;
  private budget: RestartBudget;
  private current: LanguageClient | undefined;
  private launch: ServerLaunch | undefined;
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
    this.channel = teeChannel(this.output, this.tail);
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

  private build(): LanguageClient {
    const settings = clientSettings(allSettings());
    const launch = (this.launch = this.launchCommand());
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const serverOptions: ServerOptions = {
      command: launch.command,
      args: launch.args,
      transport: TransportKind.stdio,
      options: { cwd, env: { ...process.env, ...settings.serverEnv } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel: this.channel,
      initializationOptions: serverSettings(allSettings()),
      initializationFailedHandler: (error) => {
        this.channel.error(`initialize failed: ${String(error)}`);
        return false;
      },
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => this.onClosed(),
      },
      middleware: {
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
    return new LanguageClient("aicockpit", "aicockpit", serverOptions, clientOptions);
  }

  /** The connection closed without stop(): restart after a backoff, or give up and say why. */
  private async onClosed() {
    if (this.stopping) return { action: CloseAction.DoNotRestart, handled: true };
    const attempt = this.budget.next(Date.now());
    const failure = classifyFailure(this.launchText(), this.tail.get());
    if (attempt === undefined || failure.kind === "missing-package" || failure.kind === "missing-engine") {
      this.setPhase("failed", failure.message);
      void this.reportFailure(failure.message);
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const delay = backoffMs(attempt);
    this.setPhase("restarting", `${failure.message} (restarting in ${Math.round(delay / 1000)} s)`);
    this.channel.warn(`server stopped; restart ${attempt} in ${delay} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    this.tail.clear();
    return { action: CloseAction.Restart, handled: true };
  }

  private launchText(): string {
    return this.launch ? [this.launch.command, ...this.launch.args].join(" ") : "aicockpit serve";
  }

  private async reportFailure(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, "Open Logs", "Restart", "Settings");
    if (choice === "Open Logs") this.output.show(true);
    else if (choice === "Restart") await this.restart();
    else if (choice === "Settings") await vscode.commands.executeCommand("workbench.action.openSettings", "aicockpit.client");
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.tail.clear();
    this.budget = new RestartBudget(clientSettings(allSettings()).maxRestarts);
    const client = (this.current = this.build());
    this.setPhase("starting");
    client.onDidChangeState((event) => {
      if (client !== this.current) return;
      if (event.newState === State.Running) {
        this.setPhase("running");
        this.clientEmitter.fire(client);
      }
    });
    try {
      await client.start();
    } catch (error) {
      if (client !== this.current) return;
      const spawn = error as NodeJS.ErrnoException;
      const failure = classifyFailure(this.launchText(), this.tail.get(), spawn);
      this.channel.error(`${failure.message} (${String(error)})`);
      this.setPhase("failed", failure.message);
      void this.reportFailure(failure.message);
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
        this.channel.warn(`stopping the server: ${String(error)}`);
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
