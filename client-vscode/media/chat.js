// The chat view's page: renders the state the extension posts (HTML already rendered
// from markdown there, with model text escaped) and sends user actions back.
(function () {
  const vscode = acquireVsCodeApi();
  const $ = (id) => document.getElementById(id);
  const messages = $("messages");
  const input = $("input");
  const select = $("session-select");
  const mentions = $("mentions");
  const status = $("status");
  let mentionState = { start: 0, end: 0, items: [], active: 0 };
  let busy = false;

  function messageNode(role, index, html) {
    const node = document.createElement("div");
    node.className = `message ${role}`;
    node.dataset.index = String(index);
    const header = document.createElement("div");
    header.className = "message-header";
    header.textContent = role === "user" ? "You" : "aicockpit";
    if (role === "assistant") {
      const fork = document.createElement("button");
      fork.className = "fork";
      fork.textContent = "Fork here";
      fork.title = "New session with the conversation up to this answer";
      fork.addEventListener("click", () => vscode.postMessage({ type: "forkSession", index }));
      header.appendChild(fork);
    }
    const body = document.createElement("div");
    body.className = "message-body";
    body.innerHTML = html;
    node.append(header, body);
    return node;
  }

  function render(state) {
    busy = state.busy;
    select.replaceChildren();
    const fresh = document.createElement("option");
    fresh.value = "";
    fresh.textContent = "New session";
    select.appendChild(fresh);
    for (const s of state.sessions) {
      const option = document.createElement("option");
      option.value = s.id;
      option.textContent = s.title;
      select.appendChild(option);
    }
    select.value = state.session;
    for (const id of ["rename-session", "fork-session", "delete-session"]) $(id).disabled = !state.session;
    messages.replaceChildren(...state.messages.map((m) => messageNode(m.role, m.index, m.html)));
    $("send").disabled = busy;
    status.textContent = busy ? "aicockpit is answering..." : "";
    document.body.dataset.busy = String(busy);
    messages.scrollTop = messages.scrollHeight;
  }

  function stream(index, html) {
    const node = messages.querySelector(`.message[data-index="${index}"] .message-body`);
    if (node) node.innerHTML = html;
    messages.scrollTop = messages.scrollHeight;
  }

  function showMentions(data) {
    mentionState = { start: data.start ?? 0, end: data.end ?? 0, items: data.items ?? [], active: 0 };
    mentions.replaceChildren(
      ...mentionState.items.map((item, i) => {
        const li = document.createElement("li");
        li.className = i === 0 ? "active" : "";
        li.textContent = `${item.kind === "symbol" ? "#" : "@"} ${item.label}`;
        if (item.detail) {
          const detail = document.createElement("span");
          detail.className = "detail";
          detail.textContent = ` ${item.detail}`;
          li.appendChild(detail);
        }
        li.addEventListener("mousedown", (event) => {
          event.preventDefault();
          pickMention(i);
        });
        return li;
      }),
    );
    mentions.hidden = mentionState.items.length === 0;
  }

  function pickMention(i) {
    const item = mentionState.items[i];
    if (!item) return;
    const text = input.value;
    const inserted = `@${item.label} `;
    input.value = text.slice(0, mentionState.start) + inserted + text.slice(mentionState.end);
    const cursor = mentionState.start + inserted.length;
    input.setSelectionRange(cursor, cursor);
    mentions.hidden = true;
    mentionState.items = [];
    input.focus();
  }

  function send() {
    const text = input.value;
    if (!text.trim() || busy) return;
    vscode.postMessage({ type: "send", text });
    input.value = "";
    mentions.hidden = true;
  }

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (data.type === "state") render(data);
    else if (data.type === "stream") stream(data.index, data.html);
    else if (data.type === "mentions") showMentions(data);
    else if (data.type === "error") status.textContent = `Error: ${data.message}`;
  });

  input.addEventListener("input", () => {
    vscode.postMessage({ type: "mentions", text: input.value, cursor: input.selectionStart });
  });
  input.addEventListener("keydown", (event) => {
    if (!mentions.hidden && mentionState.items.length > 0) {
      const count = mentionState.items.length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        mentionState.active = (mentionState.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
        [...mentions.children].forEach((li, i) => (li.className = i === mentionState.active ? "active" : ""));
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        pickMention(mentionState.active);
        return;
      }
      if (event.key === "Escape") {
        mentions.hidden = true;
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    }
  });
  $("send").addEventListener("click", send);
  select.addEventListener("change", () => vscode.postMessage({ type: "selectSession", id: select.value }));
  $("new-session").addEventListener("click", () => vscode.postMessage({ type: "newSession" }));
  $("rename-session").addEventListener("click", () => vscode.postMessage({ type: "renameSession" }));
  $("fork-session").addEventListener("click", () => vscode.postMessage({ type: "forkSession" }));
  $("delete-session").addEventListener("click", () => vscode.postMessage({ type: "deleteSession" }));
  messages.addEventListener("click", (event) => {
    const button = event.target.closest("button.code-action");
    if (!button) return;
    const code = button.closest(".code-block").querySelector("pre code").textContent;
    vscode.postMessage({ type: button.dataset.action, code });
  });
  vscode.postMessage({ type: "ready" });
})();
