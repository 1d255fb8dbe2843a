-- Chat: :AiChat's question and the answer streaming into a markdown split at the bottom, in
-- a session the next question continues (vim.g.aicockpit_session); Explain's whole answer
-- there too; past sessions reopened from a picker.
local M = {}

--- Chat answers being streamed, by partialResultToken: function(delta).
M.streams = {}
--- In-flight chat requests, by request id, so :AiCancel can stop them.
M.requests = {}
--- The conversation shown (messages { role, content }) and its buffer.
M.history, M.buf = nil, nil

local function token(kind)
  return string.format("aicockpit-nvim-%s-%d-%d", kind, vim.uv.hrtime(), math.random(1e6))
end

--- The chat buffer, shown in a split at the bottom (opened, or reused when it still is).
local function chat_buffer()
  local buf = M.buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = vim.api.nvim_create_buf(false, true)
    vim.bo[buf].filetype = "markdown"
    vim.bo[buf].bufhidden = "hide"
    pcall(vim.api.nvim_buf_set_name, buf, "aicockpit://chat")
    M.buf = buf
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
function M.ask(client, message, opts)
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
  M.streams[partial] = function(delta)
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
    M.streams[partial] = nil
    if id then M.requests[id] = nil end
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
  if id then M.requests[id] = true end
end

--- "Explain this code with AI" (a code action): the whole answer, streamed into the chat split,
--- in a new session that :AiChat then continues.
function M.explain(client, args, on_done)
  local range = { start = { line = args.first, character = 0 }, ["end"] = { line = args.last + 1, character = 0 } }
  M.ask(client, "Explain this code.", { session = false, uri = args.uri, selection = range, on_done = on_done })
end

--- Reopen a chat session: its conversation in the split; :AiChat continues it.
function M.open_session(client, id, on_done)
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
function M.sessions(client, on_done)
  client:request("aicockpit/chat/sessions", {}, function(err, result)
    if err then return vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR) end
    local sessions = result.sessions or {}
    if #sessions == 0 then return vim.notify("aicockpit: no chat sessions yet", vim.log.levels.INFO) end
    vim.ui.select(sessions, {
      prompt = "aicockpit chat session",
      format_item = function(s) return (s.title ~= "" and s.title or "untitled") .. "  (" .. s.id .. ")" end,
    }, function(choice)
      if choice then M.open_session(client, choice.id, on_done) end
    end)
  end, 0)
end

return M
