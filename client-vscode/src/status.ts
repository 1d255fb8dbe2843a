// The status bar item: engine state, last latency and prefix-cache hit ratio, from
// `aicockpit/stats` polled while the server runs. Clicking it opens the action menu.
import * as vscode from "vscode";
import type { ServerSupervisor } from "./server";
import { SECTION } from "./server";
import { clientSettings, type Settings } from "./settings";
import { statusView, type Stats } from "./statusText";

export const STATS_REQUEST = "aicockpit/stats";

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private timer: NodeJS.Timeout | undefined;
  private loadingSince: number | undefined;
  stats: Stats | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly server: ServerSupervisor) {
    this.item = vscode.window.createStatusBarItem("aicockpit.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "aicockpit";
    this.item.command = "aicockpit.showMenu";
    this.disposables.push(
      this.item,
      server.onPhase(() => {
        this.stats = undefined;
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
      this.stats = await client.sendRequest<Stats>(STATS_REQUEST, null);
    } catch (error) {
      this.server.output.debug(`stats: ${String(error)}`);
      return undefined;
    }
    const state = this.stats?.engine?.state;
    if (state === "loading") this.loadingSince ??= Date.now();
    else this.loadingSince = undefined;
    this.render();
    return this.stats;
  }

  render(): void {
    const ghostText = vscode.workspace.getConfiguration(SECTION).get<boolean>("completion.enabled", true);
    const seconds = this.loadingSince ? (Date.now() - this.loadingSince) / 1000 : 0;
    const view = statusView(this.server.phase, this.stats, ghostText, seconds, this.server.failure);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.error ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
