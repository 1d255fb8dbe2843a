// The status bar item: engine state, last latency and prefix-cache hit ratio, from
// `aicockpit/stats` polled while the server runs; a role's trouble (answers late, a backend
// unreachable, requests failing) in the warning colour until it clears. Clicking it opens
// the action menu.
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import type { ServerSupervisor } from "./server";
import { openSetting, SECTION } from "./server";
import { clientSettings, COMMAND_SETTING, type Settings } from "./settings";
import { latencyAfter, type LatencyShown } from "./health";
import { engineFailureView, newTraces, statusView, type EngineStats, type Stats } from "./statusText";

export const STATS_REQUEST = "aicockpit/stats";

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private timer: NodeJS.Timeout | undefined;
  private loadingSince: number | undefined;
  /** The engine failure already shown, per server process: one notification each. */
  private reported: { client: LanguageClient; error: string } | undefined;
  stats: Stats | undefined;
  /** The last completion's latency (or "timed out"), from every trace since the last poll. */
  latency: LatencyShown | undefined;
  /** The id of the newest request trace seen, so each poll asks only for newer ones. */
  private seenTrace: number | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly server: ServerSupervisor) {
    this.item = vscode.window.createStatusBarItem("aicockpit.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "aicockpit";
    this.item.command = "aicockpit.showMenu";
    this.disposables.push(
      this.item,
      server.onPhase(() => {
        this.stats = undefined;
        this.latency = this.seenTrace = undefined;
        this.render();
        void this.poll();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION)) {
          this.schedule();
          this.render();
        }
      }),
    );
    this.render();
    this.item.show();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    const settings = vscode.workspace.getConfiguration(SECTION) as unknown as Settings;
    this.timer = setInterval(() => void this.poll(), clientSettings(settings).statsIntervalMs);
  }

  /** Asks the server for its stats; a failed request keeps the last view. */
  async poll(): Promise<Stats | undefined> {
    const client = this.server.client;
    if (!client) return undefined;
    try {
      const since = this.seenTrace;
      const stats = await client.sendRequest<Stats>(STATS_REQUEST, since === undefined ? {} : { traces_since: since });
      this.latency = latencyAfter(this.latency, newTraces(stats, this.stats?.last_completion?.id, since));
      this.seenTrace = Math.max(since ?? 0, ...(stats.traces ?? []).map((t) => t.id ?? 0), stats.last_request?.id ?? 0);
      this.stats = stats;
    } catch (error) {
      this.server.output.debug(`stats: ${String(error)}`);
      return undefined;
    }
    const state = this.stats?.engine?.state;
    if (state === "loading") this.loadingSince ??= Date.now();
    else this.loadingSince = undefined;
    const engine = this.stats?.engine;
    if (state === "failed" && engine?.error) this.reportEngineFailure(client, engine);
    this.render();
    return this.stats;
  }

  /** The server sends this client no message about its engine (ownStatus): say it here, once. */
  private reportEngineFailure(client: LanguageClient, engine: EngineStats): void {
    const error = engine.error ?? "";
    if (this.reported?.client === client && this.reported.error === error) return;
    this.reported = { client, error };
    const settings = clientSettings(vscode.workspace.getConfiguration(SECTION) as unknown as Settings);
    const flag = engine.fix?.flag ?? "";
    const flagSetting = settings.serverArgs.includes(flag) ? "aicockpit.client.serverArgs" : COMMAND_SETTING;
    const view = engineFailureView(engine, flagSetting);
    this.server.output.error(view.message);
    const actions = view.setting ? ["Open Setting", "Show Logs"] : ["Show Logs", "Restart"];
    void vscode.window.showErrorMessage(view.message, ...actions).then((choice) => {
      if (choice === "Open Setting" && view.setting) void openSetting(view.setting);
      else if (choice === "Show Logs") this.server.output.show(true);
      else if (choice === "Restart") void this.server.restart();
    });
  }

  render(): void {
    const ghostText = vscode.workspace.getConfiguration(SECTION).get<boolean>("completion.enabled", true);
    const seconds = this.loadingSince ? (Date.now() - this.loadingSince) / 1000 : 0;
    const view = statusView(this.server.phase, this.stats, ghostText, seconds, this.server.failure, this.latency);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    const colour = view.error ? "statusBarItem.errorBackground" : view.warning ? "statusBarItem.warningBackground" : undefined;
    this.item.backgroundColor = colour ? new vscode.ThemeColor(colour) : undefined;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
