// Next-edit suggestions (aicockpit/nextEdit): once an edit of the active editor's document
// settles, ask the server for the edit the user will likely make next and show it as an
// inline diff: the text it removes struck through, the text it inserts beside it. Tab
// takes it (a first Tab jumps to it when it is off screen), Escape dismisses it, and any
// change of the document clears it. The server's edits are positions in one version of
// the document: they are shown and applied only while the document is at that version.
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import { cursorAfter, jumpTarget, offscreenHint, suggestionView, type LineRange, type PlainTextEdit, type Pos } from "./nextEditView";
import { SECTION, type ServerSupervisor } from "./server";

export const NEXT_EDIT_REQUEST = "aicockpit/nextEdit";
const FEEDBACK = "aicockpit/nextEdit/feedback";
/** True while a suggestion is shown: the Tab and Escape keybindings depend on it. */
export const SHOWN_CONTEXT = "aicockpit.nextEditShown";
/** The documents the language client syncs (its documentSelector). */
const SCHEMES = new Set(["file", "untitled"]);

interface Answer {
  id: string | null;
  version: number | null;
  edits: PlainTextEdit[];
}

interface Shown {
  editor: vscode.TextEditor;
  client: LanguageClient;
  id: string;
  version: number;
  edits: PlainTextEdit[];
}

const toPosition = (p: Pos) => new vscode.Position(p.line, p.character);
const toRange = (r: { start: Pos; end: Pos }) => new vscode.Range(toPosition(r.start), toPosition(r.end));

function enabled(): boolean {
  // The server's own switch (aicockpit.next_edit.enabled): off, there is nothing to ask for.
  return vscode.workspace.getConfiguration(SECTION).get<boolean>("next_edit.enabled", true);
}

function visibleLines(editor: vscode.TextEditor): LineRange[] {
  return editor.visibleRanges.map((r) => ({ start: r.start.line, end: r.end.line }));
}

export class NextEdits implements vscode.Disposable {
  private asking: vscode.CancellationTokenSource | undefined;
  private shown: Shown | undefined;
  private readonly removed = vscode.window.createTextEditorDecorationType({
    textDecoration: "line-through",
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
  });
  private readonly inserted = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor("editor.foreground"),
      backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"),
    },
  });
  private readonly hint = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor("editorCodeLens.foreground"), fontStyle: "italic", margin: "0 0 0 2em" },
  });
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly server: ServerSupervisor) {
    this.disposables = [
      this.removed,
      this.inserted,
      this.hint,
      vscode.workspace.onDidChangeTextDocument((event) => this.onChange(event)),
      vscode.window.onDidChangeActiveTextEditor(() => {
        this.cancel();
        this.dismiss();
      }),
      vscode.window.onDidChangeTextEditorVisibleRanges((event) => this.drawHint(event.textEditor)),
      vscode.window.onDidChangeTextEditorSelection((event) => this.drawHint(event.textEditor)),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration(`${SECTION}.next_edit.enabled`) && !enabled()) {
          this.cancel();
          this.dismiss();
        }
      }),
    ];
  }

  private onChange(event: vscode.TextDocumentChangeEvent): void {
    if (event.contentChanges.length === 0) return; // only the dirty state changed
    if (this.shown?.editor.document === event.document) this.dismiss();
    const editor = vscode.window.activeTextEditor;
    if (editor?.document !== event.document) return;
    // The user typed again: the pending question is about text that no longer exists.
    this.cancel();
    // Undoing a change (a taken suggestion, say) is no edit to continue.
    const reason = event.reason;
    if (reason === vscode.TextDocumentChangeReason.Undo || reason === vscode.TextDocumentChangeReason.Redo) return;
    if (!enabled() || !SCHEMES.has(event.document.uri.scheme)) return;
    // No timer here: the server answers once the edits settle (next_edit.debounce_ms), and the
    // question asked at the next change replaces this one.
    void this.ask(editor);
  }

  private cancel(): void {
    this.asking?.cancel(); // the client sends $/cancelRequest: the server aborts the generation
    this.asking?.dispose();
    this.asking = undefined;
  }

  private async ask(editor: vscode.TextEditor): Promise<void> {
    const client = this.server.client;
    if (!client || editor !== vscode.window.activeTextEditor) return;
    const document = editor.document;
    const source = (this.asking = new vscode.CancellationTokenSource());
    let answer: Answer | undefined;
    try {
      answer = await client.sendRequest<Answer>(
        NEXT_EDIT_REQUEST,
        {
          textDocument: { uri: client.code2ProtocolConverter.asUri(document.uri) },
          position: client.code2ProtocolConverter.asPosition(editor.selection.active),
        },
        source.token,
      );
    } catch (error) {
      // Cancelled by newer typing (cancel() has moved on), or the server failed: nothing to show.
      if (this.asking === source) this.server.output.debug(`${NEXT_EDIT_REQUEST}: ${String(error)}`);
    }
    // Replaced by cancel(): a newer change or another editor made this answer moot.
    if (this.asking !== source) return;
    this.asking = undefined;
    source.dispose();
    if (!answer?.id || typeof answer.version !== "number" || !Array.isArray(answer.edits) || answer.edits.length === 0) return;
    if (document.version !== answer.version || editor !== vscode.window.activeTextEditor) return;
    this.show({ editor, client, id: answer.id, version: answer.version, edits: answer.edits });
  }

  private show(shown: Shown): void {
    this.dismiss();
    this.shown = shown;
    const view = suggestionView(shown.edits);
    shown.editor.setDecorations(this.removed, view.removed.map(toRange));
    shown.editor.setDecorations(
      this.inserted,
      view.inserted.map((insertion) => ({
        range: toRange({ start: insertion.at, end: insertion.at }),
        renderOptions: { after: { contentText: insertion.label } },
      })),
    );
    this.drawHint(shown.editor);
    void vscode.commands.executeCommand("setContext", SHOWN_CONTEXT, true);
  }

  /** While the suggestion is off screen, the end of the cursor's line says where it is. */
  private drawHint(editor: vscode.TextEditor): void {
    const shown = this.shown;
    if (!shown || shown.editor !== editor) return;
    const cursor = editor.selection.active.line;
    const text = offscreenHint(shown.edits, visibleLines(editor), cursor);
    const end = editor.document.lineAt(cursor).range.end;
    editor.setDecorations(
      this.hint,
      text ? [{ range: new vscode.Range(end, end), renderOptions: { after: { contentText: text } } }] : [],
    );
  }

  /** Takes the suggestion down (no feedback) and returns it. */
  private clear(): Shown | undefined {
    const shown = this.shown;
    if (!shown) return undefined;
    this.shown = undefined;
    for (const type of [this.removed, this.inserted, this.hint]) shown.editor.setDecorations(type, []);
    void vscode.commands.executeCommand("setContext", SHOWN_CONTEXT, false);
    return shown;
  }

  /** Escape, a change, another editor: the suggestion shown was not taken. */
  dismiss(): void {
    const shown = this.clear();
    if (shown) this.feedback(shown, false);
  }

  /** Tab: applies the suggestion, or first moves to it when it is off screen. */
  async accept(): Promise<void> {
    const shown = this.shown;
    if (!shown) return;
    const editor = shown.editor;
    if (editor.document.version !== shown.version) {
      this.dismiss();
      return;
    }
    const target = jumpTarget(shown.edits, visibleLines(editor));
    if (target) {
      const at = toPosition(target);
      editor.selection = new vscode.Selection(at, at);
      editor.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      return;
    }
    this.clear();
    const cursor = toPosition(cursorAfter(editor.document.getText(), shown.edits));
    // Said before the change reaches the server, while the suggestion is still its latest.
    this.feedback(shown, true);
    // TextEditor.edit refuses (false) if the document changed since its version was read,
    // so the version check above holds up to the edit itself. One edit, one undo step.
    const applied = await editor.edit((builder) => {
      for (const edit of shown.edits) builder.replace(toRange(edit.range), edit.newText);
    });
    if (applied) editor.selection = new vscode.Selection(cursor, cursor);
    else this.server.output.warn("next edit: the document changed before the suggestion could be applied");
  }

  private feedback(shown: Shown, accepted: boolean): void {
    if (!shown.client.isRunning()) return;
    shown.client.sendNotification(FEEDBACK, { id: shown.id, accepted }).catch(() => undefined);
  }

  dispose(): void {
    this.cancel();
    this.clear();
    for (const d of this.disposables) d.dispose();
  }
}
