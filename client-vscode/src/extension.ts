// Entry point: starts the server supervisor and wires VS Code's UI to it (status bar,
// commands, Ctrl+K edits, next-edit suggestions, the chat view). Ghost text itself needs
// no code here: vscode-languageclient 11 registers LSP inline completion.
import * as vscode from "vscode";
import { ExecuteCommandRequest } from "vscode-languageclient/node";
import { ChatView, CHAT_VIEW } from "./chat";
import { EditPreviewer, REVIEW_ACTION_COMMAND } from "./edit";
import { FocusReporter } from "./focus";
import { NextEdits, SHOWN_CONTEXT } from "./nextEdit";
import { PREVIEW_SCHEME, VirtualDocuments } from "./preview";
import { openSetting, SECTION, ServerSupervisor } from "./server";
import { StatusBar } from "./status";
import { roleName, settingsNamed, troubles, troubleText, type Trouble } from "./health";
import { statsLines } from "./statusText";

export const SWITCH_PROFILE_COMMAND = "aicockpit.switchProfile";
const ROLES = ["completion", "edit", "chat", "next_edit"];

let supervisor: ServerSupervisor | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<{ supervisor: ServerSupervisor }> {
  const server = (supervisor = new ServerSupervisor());
  const documents = new VirtualDocuments();
  const status = new StatusBar(server);
  const previewer = new EditPreviewer(server, documents);
  server.middleware = previewer.codeActionMiddleware();
  const chat = new ChatView(context.extensionUri, server, previewer);
  const nextEdits = new NextEdits(server);
  const focus = new FocusReporter(server);
  context.subscriptions.push(
    focus,
    server,
    documents,
    status,
    previewer,
    chat,
    nextEdits,
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, documents),
    vscode.window.registerWebviewViewProvider(CHAT_VIEW, chat, { webviewOptions: { retainContextWhenHidden: true } }),
  );

  const command = (id: string, run: (...args: unknown[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, run));
  command("aicockpit.restartServer", () => server.restart());
  command("aicockpit.showLogs", () => server.output.show(true));
  command("aicockpit.showStats", () => showStats(status, documents));
  command("aicockpit.toggleGhostText", () => toggleGhostText());
  command("aicockpit.pickProfile", (role?: unknown, profile?: unknown) => pickProfile(server, status, role, profile));
  command("aicockpit.showMenu", () => showMenu(status));
  command("aicockpit.editSelection", () => previewer.editSelection());
  command("aicockpit.acceptEditPreview", () => previewer.accept());
  command("aicockpit.rejectEditPreview", () => previewer.reject());
  command(REVIEW_ACTION_COMMAND, (uri, action) => previewer.reviewCodeAction(uri, action));
  command("aicockpit.openChat", () => vscode.commands.executeCommand(`${CHAT_VIEW}.focus`));
  command("aicockpit.newChat", () => chat.newSession());
  command("aicockpit.acceptNextEdit", () => nextEdits.accept());
  command("aicockpit.dismissNextEdit", () => nextEdits.dismiss());

  await vscode.commands.executeCommand("setContext", "aicockpit.editPending", false);
  await vscode.commands.executeCommand("setContext", SHOWN_CONTEXT, false);
  void server.start();
  return { supervisor: server };
}

export async function deactivate(): Promise<void> {
  await supervisor?.stop();
}

async function toggleGhostText(): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const enabled = !config.get<boolean>("completion.enabled", true);
  // The setting reaches the server through workspace/didChangeConfiguration.
  await config.update("completion.enabled", enabled, vscode.ConfigurationTarget.Global);
  void vscode.window.setStatusBarMessage(`aicockpit: ghost text ${enabled ? "on" : "off"}`, 3000);
}

async function showStats(status: StatusBar, documents: VirtualDocuments): Promise<void> {
  const stats = (await status.poll()) ?? status.stats;
  if (!stats) {
    void vscode.window.showWarningMessage("aicockpit: no stats: the server is not running.");
    return;
  }
  const uri = documents.put("/aicockpit-stats.json", JSON.stringify(stats, null, 2) + "\n");
  await vscode.window.showTextDocument(uri, { preview: true });
}

/** A server setting the extension contributes (`completion.latency_target_ms`). */
function isSetting(name: string): boolean {
  return vscode.workspace.getConfiguration(SECTION).inspect(name)?.defaultValue !== undefined;
}

type MenuItem = vscode.QuickPickItem & { run?: () => unknown };
const separator = (label: string): MenuItem => ({ label, kind: vscode.QuickPickItemKind.Separator });
const commandItem = (label: string, id: string, ...args: unknown[]): MenuItem => ({
  label,
  run: () => vscode.commands.executeCommand(id, ...args),
});

/**
 * A role in trouble: the server's words with what to change (the menu cuts a long sentence:
 * choosing the row shows it whole, with the ways out as buttons), then, for the first one,
 * the ways out as rows: the settings the fix names, the role's profile switch.
 */
function troubleItems(trouble: Trouble, first: boolean): MenuItem[] {
  const fix = trouble.health.fix ?? "";
  const settings = settingsNamed(fix, isSetting).map((name) => `aicockpit.${name}`);
  const switchProfile = `Switch the ${roleName(trouble.role)} profile`;
  const explain = async () => {
    const choice = await vscode.window.showWarningMessage(
      `aicockpit: ${troubleText(trouble)}. What to change: ${fix}`,
      ...settings,
      switchProfile,
    );
    if (choice === switchProfile) await vscode.commands.executeCommand("aicockpit.pickProfile", trouble.role);
    else if (choice) await openSetting(choice);
  };
  const row: MenuItem = {
    label: `$(warning) ${troubleText(trouble)}`,
    detail: fix ? `What to change: ${fix}` : undefined,
    run: fix ? explain : undefined,
  };
  if (!first) return [row];
  return [
    row,
    ...settings.map((setting) => ({ label: `$(gear) Open setting ${setting}`, run: () => openSetting(setting) })),
    commandItem(`$(settings) ${switchProfile}`, "aicockpit.pickProfile", trouble.role),
  ];
}

async function showMenu(status: StatusBar): Promise<void> {
  const stats = (await status.poll()) ?? status.stats;
  const problems = troubles(stats?.roles).flatMap((trouble, i) => troubleItems(trouble, i === 0));
  const items: MenuItem[] = [
    ...problems,
    ...(problems.length ? [separator("Figures")] : []),
    ...(stats ? statsLines(stats, status.latency).map((label) => ({ label })) : []),
    separator("Actions"),
    commandItem("$(graph) Show stats", "aicockpit.showStats"),
    commandItem("$(comment-discussion) Open chat", "aicockpit.openChat"),
    commandItem("$(eye) Toggle ghost text", "aicockpit.toggleGhostText"),
    commandItem("$(settings) Switch profile", "aicockpit.pickProfile"),
    commandItem("$(debug-restart) Restart server", "aicockpit.restartServer"),
    commandItem("$(output) Show logs", "aicockpit.showLogs"),
  ];
  const pick = await vscode.window.showQuickPick(items, { title: "aicockpit", placeHolder: "Stats and actions" });
  await pick?.run?.();
}

/** Asks for a role and a profile: the profiles the server knows and the configured ones. */
async function pickProfile(server: ServerSupervisor, status: StatusBar, role?: unknown, profile?: unknown): Promise<void> {
  const client = server.client;
  if (!client) {
    void vscode.window.showWarningMessage("aicockpit: the server is not running.");
    return;
  }
  const stats = (await status.poll()) ?? status.stats;
  const current = (r: string) => stats?.roles?.[r]?.profile ?? "default";
  const chosenRole =
    typeof role === "string"
      ? role
      : (
          await vscode.window.showQuickPick(
            ROLES.map((r) => ({ label: r, description: `now: ${current(r)}` })),
            { title: "aicockpit: switch the profile for" },
          )
        )?.label;
  if (!chosenRole) return;
  const configured = vscode.workspace.getConfiguration(SECTION).get<unknown>("profiles");
  const names = new Set(["default", ...Object.keys(stats?.backends ?? {})]);
  if (configured && typeof configured === "object" && !Array.isArray(configured)) {
    for (const name of Object.keys(configured)) names.add(name);
  }
  const chosen =
    typeof profile === "string"
      ? profile
      : (
          await vscode.window.showQuickPick(
            [...names].map((name) => ({ label: name, description: name === current(chosenRole) ? "current" : "" })),
            { title: `aicockpit: profile for ${chosenRole}` },
          )
        )?.label;
  if (!chosen) return;
  try {
    const result = await client.sendRequest(ExecuteCommandRequest.type, {
      command: SWITCH_PROFILE_COMMAND,
      arguments: [{ role: chosenRole, profile: chosen }],
    });
    const state = (result as { state?: string; error?: string } | null) ?? {};
    if (state.state === "failed") throw new Error(state.error ?? "the profile failed to start");
    void vscode.window.setStatusBarMessage(`aicockpit: ${chosenRole} uses ${chosen}`, 3000);
  } catch (error) {
    void vscode.window.showErrorMessage(`aicockpit: cannot switch profile: ${error instanceof Error ? error.message : String(error)}`);
  }
  await status.poll();
}
