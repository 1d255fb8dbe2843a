-- aicockpit for Neovim 0.11+: completions, AI code actions, Ctrl+K-style edits, a streamed
-- :AiChat, and the server's progress (engine loading, edits, answers) where you can see it.
--
--   require("aicockpit").setup({ cmd = { "/path/to/aicockpit/.venv/bin/aicockpit", "serve" } })
--
-- (put this file on 'runtimepath' as lua/aicockpit.lua, or dofile() it).
local M = {}

--- Work-done progress of aicockpit now running, by token: { title, message, cancellable }.
M.running = {}
--- Chat answers being streamed, by partialResultToken: function(delta).
local streams = {}
--- In-flight chat requests, by request id, so :AiCancel can stop them.
local chats = {}
local options = {}

local function client_for(bufnr)
  return vim.lsp.get_clients({ name = "aicockpit", bufnr = bufnr or 0 })[1]
    or vim.lsp.get_clients({ name = "aicockpit" })[1]
end

local function token(kind)
  return string.format("aicockpit-nvim-%s-%d-%d", kind, vim.uv.hrtime(), math.random(1e6))
end

--- What aicockpit is doing, for a statusline: "aicockpit: editing app.py: 3 lines written".
--- Empty when idle. (vim.lsp.status() reports the same messages for every server.)
function M.status()
  local parts = {}
  for _, p in pairs(M.running) do
    parts[#parts + 1] = p.message and p.message ~= "" and (p.title .. ": " .. p.message) or p.title
  end
  table.sort(parts)
  return table.concat(parts, ", ")
end

local function show(text)
  if options.progress == false then return end
  -- Not kept in :messages; the latest state replaces the previous one.
  vim.api.nvim_echo({ { text } }, false, {})
  vim.cmd.redrawstatus()
end

--- $/progress from aicockpit: work-done progress (begin/report/end) and chat deltas.
local function on_progress(ev)
  local client = vim.lsp.get_client_by_id(ev.data.client_id)
  if not client or client.name ~= "aicockpit" then return end
  local params = ev.data.params
  local value = params.value
  if type(value) ~= "table" then return end
  if value.kind == nil then -- a partial result: a piece of a chat answer
    local stream = streams[params.token]
    if stream and type(value.delta) == "string" then stream(value.delta) end
    return
  end
  local running = M.running[params.token] or {}
  running.title = value.title or running.title or "aicockpit"
  if value.kind == "begin" then running.cancellable = value.cancellable end
  running.message = value.message
  if value.kind == "end" then
    M.running[params.token] = nil
    show(running.title .. ": " .. (value.message or "done"))
  else
    M.running[params.token] = running
    local hint = running.cancellable and "  (:AiCancel stops it)" or ""
    show(M.status() .. hint)
  end
end

--- Stop what aicockpit is doing: cancellable progress (edits, code actions) and chat answers.
function M.cancel()
  local client = client_for(0)
  if not client then return end
  for progress_token, p in pairs(M.running) do
    if p.cancellable then
      client:notify("window/workDoneProgress/cancel", { token = progress_token })
    end
  end
  for id in pairs(chats) do client:cancel_request(id) end
end

--- Rewrite lines first..last (0-based, inclusive) of the current buffer as instructed.
function M.edit(instruction, first, last, on_done)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then return vim.notify("aicockpit is not running here", vim.log.levels.WARN) end
  client:exec_cmd({
    title = "AI edit",
    command = "aicockpit.edit",
    arguments = { {
      uri = vim.uri_from_bufnr(bufnr),
      instruction = instruction,
      version = vim.lsp.util.buf_versions[bufnr],
      range = { start = { line = first, character = 0 }, ["end"] = { line = last + 1, character = 0 } },
    } },
  }, { bufnr = bufnr }, function(err, result)
    if err then vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR) end
    if on_done then on_done(err, result) end
  end)
end

--- The chat buffer, shown in a split at the bottom (opened, or reused when it still is).
local function chat_buffer()
  local buf = M.chat_buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = vim.api.nvim_create_buf(false, true)
    vim.bo[buf].filetype = "markdown"
    vim.bo[buf].bufhidden = "hide"
    pcall(vim.api.nvim_buf_set_name, buf, "aicockpit://chat")
    M.chat_buf = buf
  end
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    vim.cmd("botright split")
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
    vim.wo[win].wrap, vim.wo[win].linebreak = true, true
  else
    vim.api.nvim_set_current_win(win)
  end
  return buf, win
end

local function render(buf, lines)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  local win = vim.fn.bufwinid(buf)
  if win ~= -1 then vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 }) end
end

--- A conversation as markdown lines.
local function conversation(messages)
  local lines = {}
  for _, m in ipairs(messages) do
    vim.list_extend(lines, { m.role == "user" and "## You" or "## aicockpit", "" })
    vim.list_extend(lines, vim.split(m.content or "", "\n"))
    lines[#lines + 1] = ""
  end
  return lines
end

--- Ask aicockpit; the answer streams into a split. @path and @symbol add context.
--- opts: session (default: the current one; false starts a new one), uri and selection
--- (an LSP range) to ask about, on_done(err, result).
function M.chat(message, opts)
  if type(opts) == "function" then opts = { on_done = opts } end -- the old (message, on_done)
  opts = opts or {}
  local client = client_for(0)
  if not client then return vim.notify("aicockpit is not running here", vim.log.levels.WARN) end
  local session = opts.session
  if session == nil then session = vim.g.aicockpit_session end
  if session == false or session ~= vim.g.aicockpit_session then M.history = {} end
  M.history = M.history or {}
  table.insert(M.history, { role = "user", content = message })
  local reply = { role = "assistant", content = "" }
  table.insert(M.history, reply)
  local buf = chat_buffer()
  render(buf, conversation(M.history))
  local partial = token("chat")
  streams[partial] = function(delta)
    reply.content = reply.content .. delta
    if vim.api.nvim_buf_is_valid(buf) then render(buf, conversation(M.history)) end
  end
  local params = {
    message = message,
    session = session or nil,
    uri = opts.uri,
    selection = opts.selection,
    partialResultToken = partial,
    workDoneToken = token("answer"),
  }
  local _, id
  _, id = client:request("aicockpit/chat", params, function(err, result)
    streams[partial] = nil
    if id then chats[id] = nil end
    if err then
      reply.content = reply.content .. "\n\n**Error:** " .. err.message
      vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR)
    else
      vim.g.aicockpit_session = result.session
      -- The final answer is authoritative (a stream may have been cut short).
      if #result.reply >= #reply.content then reply.content = result.reply end
      for _, notice in ipairs(result.notices or {}) do vim.notify(notice, vim.log.levels.WARN) end
    end
    if vim.api.nvim_buf_is_valid(buf) then render(buf, conversation(M.history)) end
    if opts.on_done then opts.on_done(err, result) end
  end, 0)
  if id then chats[id] = true end
end

--- "Explain this code with AI" (a code action): the whole answer, streamed into the chat split,
--- in a new session that :AiChat then continues.
function M.explain(args, on_done)
  local range = { start = { line = args.first, character = 0 }, ["end"] = { line = args.last + 1, character = 0 } }
  M.chat("Explain this code.", { session = false, uri = args.uri, selection = range, on_done = on_done })
end

--- Reopen a chat session: its conversation in the split; :AiChat continues it.
function M.open_session(id, on_done)
  local client = client_for(0)
  if not client then return end
  client:request("aicockpit/chat/history", { session = id }, function(err, result)
    if err then
      vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR)
    else
      vim.g.aicockpit_session = id
      M.history = result.messages or {}
      render(chat_buffer(), conversation(M.history))
    end
    if on_done then on_done(err, result) end
  end, 0)
end

--- Pick one of this workspace's chat sessions (vim.ui.select) and open it.
function M.sessions(on_done)
  local client = client_for(0)
  if not client then return vim.notify("aicockpit is not running here", vim.log.levels.WARN) end
  client:request("aicockpit/chat/sessions", {}, function(err, result)
    if err then return vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR) end
    local sessions = result.sessions or {}
    if #sessions == 0 then return vim.notify("aicockpit: no chat sessions yet", vim.log.levels.INFO) end
    vim.ui.select(sessions, {
      prompt = "aicockpit chat session",
      format_item = function(s) return (s.title ~= "" and s.title or "untitled") .. "  (" .. s.id .. ")" end,
    }, function(choice)
      if choice then M.open_session(choice.id, on_done) end
    end)
  end, 0)
end

function M.setup(opts)
  options = opts or {}
  vim.api.nvim_create_autocmd("FileType", {
    pattern = options.filetypes or { "python", "javascript", "typescript", "go", "rust", "java", "c", "cpp", "lua" },
    callback = function(ev)
      vim.lsp.start({
        name = "aicockpit",
        cmd = options.cmd or { "aicockpit", "serve" },
        root_dir = vim.fs.root(ev.buf, { ".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml" }),
        init_options = options.init_options or {},
        -- e.g. require("cmp_nvim_lsp").default_capabilities() or require("blink.cmp").get_lsp_capabilities()
        capabilities = options.capabilities,
        commands = {
          -- Answered here, in full, instead of as a message cut at 2,000 characters.
          ["aicockpit.explain"] = function(command) M.explain(command.arguments[1]) end,
        },
      }, { bufnr = ev.buf })
    end,
  })
  vim.api.nvim_create_autocmd("LspProgress", {
    group = vim.api.nvim_create_augroup("aicockpit_progress", { clear = true }),
    callback = on_progress,
  })
  -- "Apply AI instruction" (an `# ai: ...` comment in the selection or on the line
  -- above the cursor), "Fix with AI", "Add docstring", "Explain this code".
  vim.keymap.set({ "n", "v" }, "<leader>aa", vim.lsp.buf.code_action, { desc = "AI code actions" })
  vim.keymap.set("v", "<leader>ak", function()
    local first, last = vim.fn.line("v") - 1, vim.fn.line(".") - 1
    if first > last then first, last = last, first end
    local instruction = vim.fn.input("AI edit: ")
    if instruction ~= "" then M.edit(instruction, first, last) end
  end, { desc = "AI edit selection" })
  vim.api.nvim_create_user_command("AiChat", function(args) M.chat(args.args) end, { nargs = "+" })
  vim.api.nvim_create_user_command("AiChatNew", function(args)
    M.chat(args.args, { session = false })
  end, { nargs = "+", desc = "Ask aicockpit in a new chat session" })
  vim.api.nvim_create_user_command("AiChatSessions", function() M.sessions() end, {})
  vim.api.nvim_create_user_command("AiCancel", function() M.cancel() end, {})
end

return M
