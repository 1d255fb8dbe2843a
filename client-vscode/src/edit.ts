// Ctrl+K: an instruction for the selection; the server's rewrite (aicockpit.previewEdit,
// which applies nothing) is shown as a diff to accept or reject, and accepting applies
// it as one undo step. Chat's "apply to file" and the AI code actions (Add docstring,
// Fix with AI, Apply AI instruction) go through the same preview.
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import {
  CodeActionResolveRequest,
  ExecuteCommandRequest,
  type LanguageClient,
  type Middleware,
  WorkDoneProgress,
} from "vscode-languageclient/node";
import type * as lsp from "vscode-languageclient/node";
import { PREVIEW_SCHEME, type VirtualDocuments } from "./preview";
import { SECTION, type ServerSupervisor } from "./server";
import { clientSettings, type Settings } from "./settings";
import { applyTextEdits } from "./textEdits";

export const REVIEW_ACTION_COMMAND = "aicockpit.reviewCodeAction";

function reviewEdits(): boolean {
  return clientSettings(vscode.workspace.getConfiguration(SECTION) as unknown as Settings).reviewEdits;
}

/**
 * Runs `work` under a cancellable notification (the one place an edit's progress shows):
 * the request carries `workDoneToken`, the server reports on it in words, and Cancel
 * cancels the request, which aborts the generation in the engine.
 */
async function withEditProgress<T>(
  client: LanguageClient,
  title: string,
  work: (workDoneToken: string, token: vscode.CancellationToken) => Promise<T>,
): Promise<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const workDoneToken = `aicockpit-edit-${randomUUID()}`;
      const listener = client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
        if (value.kind !== "end" && value.message) progress.report({ message: value.message });
      });
      try {
        return await work(workDoneToken, token);
      } finally {
        listener.dispose();
      }
    },
  );
}

function fileName(document: vscode.TextDocument): string {
  return document.uri.path.split("/").pop() ?? document.uri.path;
}

export const PREVIEW_EDIT_COMMAND = "aicockpit.previewEdit";
const PENDING_CONTEXT = "aicockpit.editPending";

interface PreviewResult {
  edit: lsp.WorkspaceEdit;
  version?: number;
}

interface Pending {
  document: vscode.TextDocument;
  version: number;
  edit: vscode.WorkspaceEdit;
  previewUri: vscode.Uri;
  settle: (accepted: boolean) => void;
}

export class EditPreviewer implements vscode.Disposable {
  private pending: Pending | undefined;

  constructor(
    private readonly server: ServerSupervisor,
    private readonly documents: VirtualDocuments,
  ) {}

  /** Ctrl+K on the active editor's selection (the current line when nothing is selected). */
  async editSelection(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const client = this.server.client;
    if (!editor) return;
    if (!client) {
      void vscode.window.showWarningMessage("aicockpit: the server is not running.");
      return;
    }
    const document = editor.document;
    const selection = editor.selection.isEmpty ? document.lineAt(editor.selection.active.line).range : editor.selection;
    const instruction = await vscode.window.showInputBox({
      title: "aicockpit: edit the selection",
      prompt: "What should change? (Enter to generate, Esc to cancel)",
      placeHolder: "e.g. add type hints, handle the empty case, rename x to total",
      ignoreFocusOut: true,
    });
    if (!instruction?.trim()) return;
    const argument = {
      uri: document.uri.toString(),
      range: client.code2ProtocolConverter.asRange(selection),
      instruction: instruction.trim(),
      version: document.version,
    };
    const result = await withEditProgress(client, `aicockpit: editing ${fileName(document)}`, (workDoneToken, token) =>
      this.request<PreviewResult>(client, PREVIEW_EDIT_COMMAND, argument, workDoneToken, token),
    );
    if (result === undefined) return;
    const edit = await client.protocol2CodeConverter.asWorkspaceEdit(result.edit);
    await this.propose(document, edit, `aicockpit: ${instruction.trim()}`, result.version ?? argument.version);
  }

  /** Sends workspace/executeCommand; errors (a stale document, no model) are shown, not thrown. */
  private async request<T>(
    client: LanguageClient,
    command: string,
    argument: unknown,
    workDoneToken: string,
    token: vscode.CancellationToken,
  ): Promise<T | undefined> {
    try {
      return (await client.sendRequest(
        ExecuteCommandRequest.type,
        { command, arguments: [argument], workDoneToken },
        token,
      )) as T;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!token.isCancellationRequested && !/cancel/i.test(message)) {
        void vscode.window.showErrorMessage(`aicockpit: ${message}`);
      }
      return undefined;
    }
  }

  /**
   * Makes the server's AI code actions reviewable: VS Code would apply a resolved
   * action's edit at once, so the action carries a command instead, which resolves it
   * under a cancellable notification and shows the diff (aicockpit.client.reviewEdits).
   */
  codeActionMiddleware(): Middleware {
    return {
      provideCodeActions: async (document, range, context, token, next) => {
        const actions = await next(document, range, context, token);
        if (!actions || !reviewEdits()) return actions;
        for (const action of actions) {
          // Only the actions the server edits in codeAction/resolve (Explain is a command).
          if (action instanceof vscode.CodeAction && !action.edit && !action.command) {
            action.command = {
              title: action.title,
              command: REVIEW_ACTION_COMMAND,
              arguments: [document.uri.toString(), action],
            };
          }
        }
        return actions;
      },
      resolveCodeAction: (item, token, next) =>
        // Resolved by the review command, after VS Code has looked for an edit to apply.
        item.command?.command === REVIEW_ACTION_COMMAND ? item : next(item, token),
    };
  }

  /** The command behind a reviewable code action: resolve it, then show the diff. */
  async reviewCodeAction(uri: unknown, action: unknown): Promise<void> {
    const client = this.server.client;
    if (!client || typeof uri !== "string" || !(action instanceof vscode.CodeAction)) return;
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
    if (!document) return;
    const title = `aicockpit: ${action.title.replace(/ with AI\b/, "")} in ${fileName(document)}`;
    const resolved = await withEditProgress(client, title, async (_workDoneToken, token) => {
      try {
        const params = await client.code2ProtocolConverter.asCodeAction(action, token);
        params.command = undefined; // the review command itself, which holds this action
        return await client.sendRequest(CodeActionResolveRequest.type, params, token);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (!token.isCancellationRequested) void vscode.window.showErrorMessage(`aicockpit: ${message}`);
        return undefined;
      }
    });
    if (!resolved?.edit) return;
    const data = resolved.data as { version?: unknown } | undefined;
    const version = typeof data?.version === "number" ? data.version : document.version;
    const edit = await client.protocol2CodeConverter.asWorkspaceEdit(resolved.edit);
    await this.propose(document, edit, `aicockpit: ${action.title}`, version);
  }

  /**
   * Shows `edit` (for `document`) as a diff; resolves true when accepted and applied.
   * `version` is the document version the edit was made for: a newer one is refused.
   */
  async propose(document: vscode.TextDocument, edit: vscode.WorkspaceEdit, title: string, version: number): Promise<boolean> {
    const edits = edit.get(document.uri);
    if (edits.length === 0) {
      void vscode.window.showInformationMessage("aicockpit: no change proposed.");
      return false;
    }
    this.settle(false);
    const proposed = applyTextEdits(
      document.getText(),
      edits.map((e) => ({
        range: {
          start: { line: e.range.start.line, character: e.range.start.character },
          end: { line: e.range.end.line, character: e.range.end.character },
        },
        newText: e.newText,
      })),
    );
    const previewUri = this.documents.put(document.uri.path, proposed);
    const decided = new Promise<boolean>((resolve) => {
      this.pending = { document, version, edit, previewUri, settle: resolve };
    });
    await vscode.commands.executeCommand("setContext", PENDING_CONTEXT, true);
    await vscode.commands.executeCommand("vscode.diff", document.uri, previewUri, `${title} (proposed)`, {
      preview: true,
    });
    void vscode.window
      .showInformationMessage("aicockpit: apply the proposed edit?", "Accept", "Reject")
      .then((choice) => {
        if (choice === "Accept") return this.accept();
        if (choice === "Reject") return this.reject();
        return undefined;
      });
    return decided;
  }

  async accept(): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    if (pending.document.version !== pending.version) {
      void vscode.window.showWarningMessage(
        "aicockpit: the file changed since the edit was proposed; nothing applied. Run the edit again.",
      );
      await this.close(pending, false);
      return;
    }
    // One WorkspaceEdit is one undo step.
    const ok = await vscode.workspace.applyEdit(pending.edit);
    await this.close(pending, ok);
    if (!ok) void vscode.window.showErrorMessage("aicockpit: VS Code refused the edit.");
  }

  async reject(): Promise<void> {
    if (this.pending) await this.close(this.pending, false);
  }

  private settle(accepted: boolean): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.settle(accepted);
  }

  private async close(pending: Pending, accepted: boolean): Promise<void> {
    if (this.pending === pending) this.settle(accepted);
    await vscode.commands.executeCommand("setContext", PENDING_CONTEXT, false);
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs);
    const previews = tabs.filter(
      (tab) =>
        tab.input instanceof vscode.TabInputTextDiff &&
        tab.input.modified.scheme === PREVIEW_SCHEME &&
        tab.input.modified.toString() === pending.previewUri.toString(),
    );
    if (previews.length > 0) await vscode.window.tabGroups.close(previews);
    this.documents.forget(pending.previewUri);
    await vscode.window.showTextDocument(pending.document, { preview: false });
  }

  dispose(): void {
    this.settle(false);
  }
}
