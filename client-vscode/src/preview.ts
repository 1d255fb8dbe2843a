// Read-only virtual documents: the proposed text of a Ctrl+K edit (shown in a diff
// against the real file) and the stats report.
import * as vscode from "vscode";

export const PREVIEW_SCHEME = "aicockpit-preview";

export class VirtualDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private counter = 0;

  /** A new URI showing `text`, named after `path` so the diff editor picks its language. */
  put(path: string, text: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path, query: String(++this.counter) });
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    return uri;
  }

  forget(uri: vscode.Uri): void {
    this.texts.delete(uri.toString());
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? "";
  }

  dispose(): void {
    this.changed.dispose();
    this.texts.clear();
  }
}
