// Ctrl+K: an instruction for the selection; the server's rewrite (aicockpit.previewEdit,
// which applies nothing) is shown as a diff to accept or reject, and accepting applies
// it as one undo step. Chat's "apply to file" goes through the same preview.
import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import type * as lsp from "vscode-languageclient/node";
import { PREVIEW_SCHEME, type VirtualDocuments } from "./preview";
import type { ServerSupervisor } from "./server";
import { applyTextEdits } from "./textEdits";

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
    // The server shows its own cancellable progress notification; the window spinner
    // only says that something runs.
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "aicockpit: editing" },
      () => this.request<PreviewResult>(client, PREVIEW_EDIT_COMMAND, argument),
    );
    if (result === undefined) return;
    const edit = await client.protocol2CodeConverter.asWorkspaceEdit(result.edit);
    await this.propose(document, edit, `aicockpit: ${instruction.trim()}`, result.version ?? argument.version);
  }

  /** Sends workspace/executeCommand; errors (a stale document, no model) are shown, not thrown. */
  private async request<T>(client: LanguageClient, command: string, argument: unknown): Promise<T | undefined> {
    try {
      return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] })) as T;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!/cancel/i.test(message)) void vscode.window.showErrorMessage(`aicockpit: ${message}`);
      return undefined;
    }
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
