// The chat view (a webview in its own activity bar container): streams replies from `aicockpit/chat` as
// `$/progress` deltas, renders markdown, completes @mentions, and manages sessions
// (list, rename, fork, delete). The server owns the sessions; this view shows them.
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import { ProgressType } from "vscode-languageclient/node";
import type { EditPreviewer } from "./edit";
import { mentionAt, renderMarkdown } from "./markdown";
import type { ServerSupervisor } from "./server";

export const CHAT_VIEW = "aicockpit.chat";

interface ChatMessage {
  role: string;
  content: string;
}

interface SessionInfo {
  id: string;
  title: string;
  updated?: string | number;
  messages?: number;
}

type FromView =
  | { type: "ready" }
  | { type: "send"; text: string }
  | { type: "newSession" }
  | { type: "selectSession"; id: string }
  | { type: "renameSession" }
  | { type: "forkSession"; index?: number }
  | { type: "deleteSession" }
  | { type: "mentions"; text: string; cursor: number }
  | { type: "copy"; code: string }
  | { type: "insert"; code: string }
  | { type: "apply"; code: string };

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private session: string | undefined;
  private messages: ChatMessage[] = [];
  private sessions: SessionInfo[] = [];
  private busy = false;
  private lastEditor: vscode.TextEditor | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly server: ServerSupervisor,
    private readonly previewer: EditPreviewer,
  ) {
    this.lastEditor = vscode.window.activeTextEditor;
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (editor && editor.document.uri.scheme !== "aicockpit-preview") this.lastEditor = editor;
      }),
      server.onClient(() => void this.refreshSessions()),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, "media");
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    const nonce = randomUUID().replace(/-/g, "");
    const script = view.webview.asWebviewUri(vscode.Uri.joinPath(media, "chat.js"));
    const style = view.webview.asWebviewUri(vscode.Uri.joinPath(media, "chat.css"));
    view.webview.html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${view.webview.cspSource}; script-src 'nonce-${nonce}';">
<link rel="stylesheet" href="${style}"></head>
<body>
<div id="sessions" class="toolbar">
  <select id="session-select" title="Chat sessions"></select>
  <button id="new-session" title="New session">New</button>
  <button id="rename-session" title="Rename this session">Rename</button>
  <button id="fork-session" title="Fork this session">Fork</button>
  <button id="delete-session" title="Delete this session">Delete</button>
</div>
<div id="messages" aria-live="polite"></div>
<div id="status"></div>
<div id="composer">
  <ul id="mentions" hidden></ul>
  <textarea id="input" rows="3" placeholder="Ask about your code. @ to mention a file or symbol. Enter sends, Shift+Enter breaks the line."></textarea>
  <button id="send">Send</button>
</div>
<script nonce="${nonce}" src="${script}"></script>
</body></html>`;
    this.disposables.push(view.webview.onDidReceiveMessage((message: FromView) => void this.onMessage(message)));
  }

  private post(message: Record<string, unknown>): void {
    void this.view?.webview.postMessage(message);
  }

  private render(): void {
    this.post({
      type: "state",
      busy: this.busy,
      session: this.session ?? "",
      sessions: this.sessions.map((s) => ({ id: s.id, title: s.title || "untitled" })),
      messages: this.messages.map((m, index) => ({ role: m.role, index, html: renderMarkdown(m.content) })),
    });
  }

  private async onMessage(message: FromView): Promise<void> {
    try {
      switch (message.type) {
        case "ready":
          this.render();
          await this.refreshSessions();
          return;
        case "send":
          return await this.send(message.text);
        case "newSession":
          return this.newSession();
        case "selectSession":
          return await this.open(message.id);
        case "renameSession":
          return await this.rename();
        case "forkSession":
          return await this.fork(message.index);
        case "deleteSession":
          return await this.remove();
        case "mentions":
          return await this.mentions(message.text, message.cursor);
        case "copy":
          await vscode.env.clipboard.writeText(message.code);
          return void vscode.window.setStatusBarMessage("aicockpit: code copied", 2000);
        case "insert":
          return await this.insert(message.code);
        case "apply":
          return await this.apply(message.code);
      }
    } catch (error) {
      this.post({ type: "error", message: error instanceof Error ? error.message : String(error) });
    }
  }

  private requireClient() {
    const client = this.server.client;
    if (!client) throw new Error("the aicockpit server is not running");
    return client;
  }

  newSession(): void {
    this.session = undefined;
    this.messages = [];
    this.render();
  }

  async send(text: string): Promise<void> {
    const message = text.trim();
    if (!message || this.busy) return;
    const client = this.requireClient();
    const editor = this.lastEditor;
    const token = `aicockpit-chat-${randomUUID()}`;
    this.busy = true;
    this.messages.push({ role: "user", content: message }, { role: "assistant", content: "" });
    const reply = this.messages[this.messages.length - 1];
    this.render();
    const stream = client.onProgress(new ProgressType<{ delta?: string }>(), token, (value) => {
      if (typeof value?.delta !== "string") return;
      reply.content += value.delta;
      this.post({ type: "stream", index: this.messages.length - 1, html: renderMarkdown(reply.content) });
    });
    try {
      const params: Record<string, unknown> = { message, partialResultToken: token };
      if (this.session) params.session = this.session;
      if (editor && !editor.document.isClosed) {
        params.uri = editor.document.uri.toString();
        if (!editor.selection.isEmpty) params.selection = client.code2ProtocolConverter.asRange(editor.selection);
      }
      const result = await client.sendRequest<{ session: string; reply: string }>("aicockpit/chat", params);
      this.session = result.session;
      // The final answer is authoritative (a stream may have been cut short).
      if (typeof result.reply === "string" && result.reply.length >= reply.content.length) reply.content = result.reply;
    } catch (error) {
      reply.content += `\n\n**Error:** ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      stream.dispose();
      this.busy = false;
    }
    this.render();
    await this.refreshSessions();
  }

  async refreshSessions(): Promise<void> {
    const client = this.server.client;
    if (!client || !this.view) return;
    try {
      const result = await client.sendRequest<{ sessions: SessionInfo[] }>("aicockpit/chat/sessions", {});
      this.sessions = result.sessions ?? [];
    } catch (error) {
      this.server.output.debug(`chat sessions: ${String(error)}`);
    }
    this.render();
  }

  private async open(id: string): Promise<void> {
    if (!id) return this.newSession();
    const client = this.requireClient();
    const history = await client.sendRequest<{ messages: ChatMessage[] }>("aicockpit/chat/history", { session: id });
    this.session = id;
    this.messages = history.messages ?? [];
    this.render();
  }

  private async rename(): Promise<void> {
    if (!this.session) return;
    const current = this.sessions.find((s) => s.id === this.session)?.title ?? "";
    const title = await vscode.window.showInputBox({ title: "aicockpit: rename the chat session", value: current });
    if (!title?.trim()) return;
    await this.requireClient().sendRequest("aicockpit/chat/rename", { session: this.session, title: title.trim() });
    await this.refreshSessions();
  }

  private async fork(index?: number): Promise<void> {
    if (!this.session) return;
    const at = index ?? this.messages.length - 1;
    const result = await this.requireClient().sendRequest<{ session: string }>("aicockpit/chat/fork", {
      session: this.session,
      index: at,
    });
    await this.open(result.session);
    await this.refreshSessions();
  }

  private async remove(): Promise<void> {
    if (!this.session) return;
    const choice = await vscode.window.showWarningMessage("Delete this chat session?", { modal: true }, "Delete");
    if (choice !== "Delete") return;
    await this.requireClient().sendRequest("aicockpit/chat/delete", { session: this.session });
    this.newSession();
    await this.refreshSessions();
  }

  private async mentions(text: string, cursor: number): Promise<void> {
    const mention = mentionAt(text, cursor);
    const client = this.server.client;
    if (!mention || !client) {
      this.post({ type: "mentions", items: [] });
      return;
    }
    let items: { kind: string; label: string; detail?: string }[] = [];
    try {
      const result = await client.sendRequest<{ items: typeof items }>("aicockpit/mentions", { query: mention.query });
      items = (result.items ?? []).slice(0, 20);
    } catch (error) {
      this.server.output.debug(`mentions: ${String(error)}`);
    }
    this.post({ type: "mentions", start: mention.start, end: cursor, items });
  }

  private targetEditor(): vscode.TextEditor {
    const editor = this.lastEditor;
    if (!editor || editor.document.isClosed) throw new Error("open a file first: there is no editor to put the code in");
    return editor;
  }

  private async insert(code: string): Promise<void> {
    const editor = this.targetEditor();
    await vscode.window.showTextDocument(editor.document, editor.viewColumn);
    await editor.edit((builder) => builder.replace(editor.selection, code));
  }

  /** The code replaces the selection (or the whole file), shown as a diff first. */
  private async apply(code: string): Promise<void> {
    const editor = this.targetEditor();
    const document = editor.document;
    const whole = editor.selection.isEmpty;
    const range = whole
      ? new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length))
      : editor.selection;
    const edit = new vscode.WorkspaceEdit();
    // A code block's text ends with a newline; a replaced selection keeps what followed it.
    edit.replace(document.uri, range, whole ? code : code.replace(/\n$/, ""));
    await this.previewer.propose(document, edit, "aicockpit: apply code from chat", document.version);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
