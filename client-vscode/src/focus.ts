// Tells the server where the cursor is when an editor is shown or its cursor moves
// (aicockpit/didFocus), so that it can prefill the next completion's prompt there before
// the user pauses. A notification per event, no timer: the server does nothing while the
// cursor stays in the same part of the file.
import * as vscode from "vscode";
import type { ServerSupervisor } from "./server";

export const DID_FOCUS = "aicockpit/didFocus";
const SCHEMES = new Set(["file", "untitled"]);

export class FocusReporter implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly server: ServerSupervisor) {
    this.disposables = [
      // A (re)started server hears where the cursor is at once.
      server.onClient(() => vscode.window.activeTextEditor && this.report(vscode.window.activeTextEditor)),
      vscode.window.onDidChangeActiveTextEditor((editor) => editor && this.report(editor)),
      vscode.window.onDidChangeTextEditorSelection((event) => this.report(event.textEditor)),
    ];
  }

  report(editor: vscode.TextEditor): void {
    const client = this.server.client;
    if (!client?.isRunning() || !SCHEMES.has(editor.document.uri.scheme)) return;
    const at = editor.selection.active;
    void client
      .sendNotification(DID_FOCUS, {
        textDocument: { uri: editor.document.uri.toString() },
        position: { line: at.line, character: at.character },
      })
      .catch(() => undefined);
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
