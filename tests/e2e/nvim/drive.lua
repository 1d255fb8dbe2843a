-- Drives a real headless Neovim against `aicockpit serve`: completion, inline
-- completion, the "Apply AI instruction" code action, an edit, a streamed chat, Explain
-- and the sessions picker, and the progress shown meanwhile. Writes what happened as
-- JSON to $AICOCKPIT_OUT for the pytest side to check.
local out = { progress = {}, status = {} }
local function finish()
  local f = assert(io.open(vim.env.AICOCKPIT_OUT, "w"))
  f:write(vim.json.encode(out))
  f:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  -- The integration users install, exactly as the README shows it.
  local aicockpit = dofile(vim.env.AICOCKPIT_PLUGIN)
  aicockpit.setup({
    cmd = vim.json.decode(vim.env.AICOCKPIT_CMD),
    init_options = {
      completion = { max_tokens = 16 },
      edit = { max_tokens = 48 },
      -- Long enough to stream for a while: the test watches the split grow.
      chat = { max_tokens = 400 },
    },
  })
  -- Every $/progress the integration sees, and what its statusline function says meanwhile.
  vim.api.nvim_create_autocmd("LspProgress", {
    callback = function(ev)
      local value = ev.data.params.value
      if type(value) == "table" and value.kind then
        table.insert(out.progress, { kind = value.kind, title = value.title, message = value.message })
      end
    end,
  })
  local function sample(phase)
    local text = aicockpit.status()
    local seen = out.status[phase] or {}
    if text ~= "" and seen[#seen] ~= text then table.insert(seen, text) end
    out.status[phase] = seen
  end
  vim.cmd.edit(vim.env.AICOCKPIT_FILE)
  local buf = vim.api.nvim_get_current_buf()
  assert(vim.wait(30000, function()
    return #vim.lsp.get_clients({ name = "aicockpit", bufnr = buf }) > 0
  end, 100), "aicockpit did not attach")
  local client = vim.lsp.get_clients({ name = "aicockpit", bufnr = buf })[1]
  local uri = vim.uri_from_bufnr(buf)

  out.omnifunc = vim.bo[buf].omnifunc -- what <C-x><C-o> asks (the README says so)
  out.completion_provider = client.server_capabilities.completionProvider ~= nil
  out.inline_provider = client.server_capabilities.inlineCompletionProvider ~= nil
  out.ready = vim.wait(240000, function()
    sample("loading")
    local r = client:request_sync("aicockpit/stats", vim.empty_dict(), 5000, buf)
    return r ~= nil and r.result ~= nil and r.result.engine.state == "ready"
  end, 200)
  vim.wait(2000, function() return aicockpit.status() == "" end, 50)
  out.idle_status = aicockpit.status()

  local row, col = tonumber(vim.env.AICOCKPIT_ROW), tonumber(vim.env.AICOCKPIT_COL)
  local position = { line = row, character = col }
  local completion = client:request_sync("textDocument/completion",
    { textDocument = { uri = uri }, position = position }, 60000, buf)
  out.completion = completion and completion.result
  local inline = client:request_sync("textDocument/inlineCompletion",
    { textDocument = { uri = uri }, position = position, context = { triggerKind = 1 } }, 60000, buf)
  out.inline = inline and inline.result

  local target = tonumber(vim.env.AICOCKPIT_ACTION_ROW)
  local here = { line = target, character = 0 }
  local actions = client:request_sync("textDocument/codeAction", {
    textDocument = { uri = uri },
    range = { start = here, ["end"] = here },
    context = { diagnostics = {} },
  }, 60000, buf)
  out.titles = {}
  local chosen
  for _, action in ipairs(actions and actions.result or {}) do
    table.insert(out.titles, action.title)
    if action.title:find("^Apply AI instruction") then chosen = action end
  end
  if chosen then
    if chosen.edit == nil then
      local resolved = client:request_sync("codeAction/resolve", chosen, 120000, buf)
      chosen = resolved and resolved.result or chosen
    end
    out.had_edit = chosen.edit ~= nil
    if chosen.edit then
      vim.lsp.util.apply_workspace_edit(chosen.edit, client.offset_encoding)
    end
  end
  out.lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)

  -- The <leader>ak path: edit lines as instructed.
  local edited
  aicockpit.edit("use sum()", tonumber(vim.env.AICOCKPIT_EDIT_FIRST), tonumber(vim.env.AICOCKPIT_EDIT_LAST),
    function(e, result) edited = { error = e and e.message, result = result } end)
  vim.wait(120000, function() sample("edit") return edited ~= nil end, 20)
  out.edit = edited
  out.lines_after_edit = vim.api.nvim_buf_get_lines(buf, 0, -1, false)

  -- :AiChat opens a split at once and the answer streams into it.
  local source_win = vim.api.nvim_get_current_win()
  vim.cmd("AiChat what does @" .. vim.fn.fnamemodify(vim.env.AICOCKPIT_FILE, ":t") .. " do?")
  out.chat_opened = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local chat_buf = vim.api.nvim_get_current_buf()
  out.chat_sizes = {}
  vim.wait(120000, function()
    sample("chat")
    local size = #table.concat(vim.api.nvim_buf_get_lines(chat_buf, 0, -1, false), "\n")
    if out.chat_sizes[#out.chat_sizes] ~= size then table.insert(out.chat_sizes, size) end
    return vim.g.aicockpit_session ~= nil
  end, 5)
  out.chat_session = vim.g.aicockpit_session
  out.chat_lines = vim.api.nvim_buf_get_lines(chat_buf, 0, -1, false)
  out.chat_filetype = vim.bo[chat_buf].filetype

  -- "Explain this code with AI": the whole answer in the chat split, in a new session.
  vim.api.nvim_set_current_win(source_win)
  local explain_actions = client:request_sync("textDocument/codeAction", {
    textDocument = { uri = uri },
    range = { start = { line = 0, character = 0 }, ["end"] = { line = 3, character = 0 } },
    context = { diagnostics = {} },
  }, 60000, buf)
  local explain
  for _, action in ipairs(explain_actions and explain_actions.result or {}) do
    if action.title == "Explain this code with AI" then explain = action end
  end
  out.explain_found = explain ~= nil
  if explain then
    vim.g.aicockpit_session = nil
    client:exec_cmd(explain.command, { bufnr = buf })
    vim.wait(120000, function() return vim.g.aicockpit_session ~= nil end, 20)
    out.explain_session = vim.g.aicockpit_session
    out.explain_lines = vim.api.nvim_buf_get_lines(aicockpit.chat_buf, 0, -1, false)
  end

  -- :AiChatSessions lists the sessions (vim.ui.select, as a picker plugin would) and
  -- reopens the chosen one in the split.
  out.session_choices = {}
  vim.ui.select = function(items, opts, on_choice)
    local chosen
    for _, item in ipairs(items) do
      table.insert(out.session_choices, opts.format_item(item))
      if item.id == out.chat_session then chosen = item end
    end
    on_choice(chosen)
  end
  vim.g.aicockpit_session = nil
  vim.cmd("AiChatSessions")
  vim.wait(30000, function() return vim.g.aicockpit_session ~= nil end, 20)
  out.reopened_session = vim.g.aicockpit_session
  out.reopened_lines = vim.api.nvim_buf_get_lines(aicockpit.chat_buf, 0, -1, false)
  return { client = client, buf = buf, win = source_win }
end)
if not ok then
  out.error = tostring(err)
  return finish()
end

-- Last, <C-x><C-o> in insert mode, typed. Keys are read by Neovim's main loop, never
-- inside vim.wait, so this script returns and a timer looks at the result.
local ctx = err
local function stop()
  ctx.client:stop()
  vim.wait(10000, function() return ctx.client:is_stopped() end, 100)
  finish()
end
local omni_ok, omni_err = pcall(function()
  vim.api.nvim_set_current_win(ctx.win)
  -- The last function's body, cut after `return `: the cursor goes to its end.
  local lines = vim.api.nvim_buf_get_lines(ctx.buf, 0, -1, false)
  local row = #lines - 1
  while row > 0 and lines[row + 1] ~= "    return None" do row = row - 1 end
  vim.api.nvim_buf_set_lines(ctx.buf, row, row + 1, false, { "    return " })
  out.omni_before = "    return "
  vim.api.nvim_win_set_cursor(ctx.win, { row + 1, 0 })
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("A<C-x><C-o>", true, false, true), "t", false)
  local started, timer = vim.uv.now(), vim.uv.new_timer()
  timer:start(100, 100, vim.schedule_wrap(function()
    local info = vim.fn.complete_info({ "mode", "pum_visible", "items" })
    local line = vim.api.nvim_buf_get_lines(ctx.buf, row, row + 1, false)[1]
    local answered = #info.items > 0 or line ~= out.omni_before
    if not answered and vim.uv.now() - started < 90000 then return end
    timer:stop()
    out.omni = {
      mode = info.mode,
      pum_visible = info.pum_visible,
      words = vim.tbl_map(function(item) return item.word end, info.items),
      line = line,
    }
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Esc>", true, false, true), "n", false)
    vim.schedule(stop)
  end))
end)
if not omni_ok then
  out.error = tostring(omni_err)
  stop()
end
