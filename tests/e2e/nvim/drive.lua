-- Drives a real headless Neovim against `aicockpit serve` (the embedded engine on the tiny
-- model) with the README's setup: ghost text taken with <Tab>, the "Apply AI instruction"
-- code action and a <leader>ak-style edit reviewed as a diff (accepted, rejected, refused
-- once the buffer moved on), a streamed chat, Explain and the sessions picker, and the
-- progress shown meanwhile. Writes what happened as JSON to $AICOCKPIT_OUT.
local steps = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/steps.lua")
local keys = steps.keys
local out = { progress = {}, statuses = {}, notices = {} }

-- The integration users install, exactly as the README shows it.
local aicockpit = dofile(vim.env.AICOCKPIT_PLUGIN)
aicockpit.setup({
  cmd = vim.json.decode(vim.env.AICOCKPIT_CMD),
  init_options = {
    completion = { max_tokens = 16 },
    edit = { max_tokens = 48 },
    -- Long enough to stream for a while: the test watches the split grow.
    chat = { max_tokens = 120 },
  },
})
local review = require("aicockpit.review")
-- What its statusline function says, each time it changes.
local function sample()
  local text = aicockpit.status()
  if text ~= "" and out.statuses[#out.statuses] ~= text then table.insert(out.statuses, text) end
end
-- Every $/progress the integration sees (it has handled it when this runs), and what it
-- tells the user.
local chat_buf
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(ev)
    local value = ev.data.params.value
    if type(value) == "table" and value.kind then
      table.insert(out.progress, { kind = value.kind, title = value.title, message = value.message })
      sample()
    elseif type(value) == "table" and value.delta and chat_buf and not out.chat_session then
      -- A piece of a chat answer: the split's size once it has shown it.
      local size = #table.concat(vim.api.nvim_buf_get_lines(chat_buf, 0, -1, false), "\n")
      if out.chat_sizes[#out.chat_sizes] ~= size then table.insert(out.chat_sizes, size) end
    end
  end,
})
local notify = vim.notify
vim.notify = function(message, level, ...)
  table.insert(out.notices, message)
  return notify(message, level, ...)
end

local buf, client, source_win
--- The source buffer's lines (the review's split may have the focus).
local function lines() return vim.api.nvim_buf_get_lines(buf, 0, -1, false) end
local function row_of(text)
  for i, l in ipairs(lines()) do
    if l == text then return i end
  end
end
local function ghost()
  local ns = vim.api.nvim_get_namespaces()[vim.lsp.inline_completion and "nvim.lsp.inline_completion" or "aicockpit_ghost_text"]
  local mark = ns and vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })[1]
  if not (mark and mark[4].virt_text) then return nil end
  return {
    row = mark[2], text = mark[4].virt_text[1][1],
    below = vim.tbl_map(function(l) return l[1][1] end, mark[4].virt_lines or {}),
  }
end
--- The review on screen: the proposed text, and whether both windows are in diff mode.
local function proposed()
  local pending = review.pending
  if not pending then return nil end
  return {
    lines = vim.api.nvim_buf_get_lines(pending.scratch, 0, -1, false),
    diff = vim.wo[pending.win].diff and vim.wo[pending.source_win].diff,
    winbar = vim.wo[pending.win].winbar,
    current = vim.api.nvim_get_current_win() == pending.win,
  }
end
local edit_range = { tonumber(vim.env.AICOCKPIT_EDIT_FIRST), tonumber(vim.env.AICOCKPIT_EDIT_LAST) }
local function edit(result_key)
  out[result_key] = nil
  aicockpit.edit("use sum()", edit_range[1], edit_range[2], function(err, result)
    out[result_key] = { error = err and err.message, result = result }
  end)
end

steps.run({
  { "attached", function() vim.cmd.edit(vim.env.AICOCKPIT_FILE) end, function()
    buf = vim.api.nvim_get_current_buf()
    client = steps.client()
    if not client or not client.initialized then return false end
    source_win = vim.api.nvim_get_current_win()
    out.completion_provider = client.server_capabilities.completionProvider ~= nil
    out.inline_provider = client.server_capabilities.inlineCompletionProvider ~= nil
    return true
  end },
  { "ready", nil, function()
    sample()
    local stats = steps.stats()
    out.ready = stats ~= nil and stats.engine.state == "ready"
    return out.ready
  end, 240 },
  { "idle", nil, function()
    out.idle_status = aicockpit.status()
    return out.idle_status == ""
  end },
  -- The cursor moves: the integration says where (aicockpit/didFocus), the server pre-warms there.
  { "focused", function() vim.api.nvim_win_set_cursor(0, { row_of("def last_function() -> None:"), 0 }) end,
    function()
      local stats = steps.stats()
      out.prewarm = stats and stats.prewarm.outcomes
      return out.prewarm ~= nil and (out.prewarm.served or 0) >= 1
    end },
  -- Ghost text in Insert mode after `    return `, taken with <Tab>, undone in one step.
  { "ghost", function()
    local row = row_of("    return None")
    vim.api.nvim_buf_set_lines(buf, row - 1, row, false, { "    return " })
    vim.api.nvim_win_set_cursor(0, { row, 0 })
    keys("A")
  end, function()
    out.ghost = ghost()
    return out.ghost ~= nil and out.ghost.text ~= ""
  end },
  -- Typing its first character: the rest of it stays shown.
  { "ghost_typed_through", function()
    out.ghost_row = out.ghost.row
    vim.api.nvim_feedkeys(vim.fn.strcharpart(out.ghost.text, 0, 1), "nt", false)
  end, function()
    out.ghost_after_typing = ghost()
    local rest = vim.fn.strcharpart(out.ghost.text, 1)
    return rest == "" or (out.ghost_after_typing ~= nil and out.ghost_after_typing.text == rest)
  end },
  { "ghost_taken", function()
    keys("<Tab>")
  end, function()
    out.after_ghost = vim.list_slice(lines(), out.ghost_row + 1, out.ghost_row + 1 + #out.ghost.below)
    return out.after_ghost[1] ~= "    return " .. vim.fn.strcharpart(out.ghost.text, 0, 1)
  end },
  { "ghost_undone", function() keys("<Esc>u") end, function()
    out.ghost_undone = lines()[out.ghost_row + 1]
    return vim.api.nvim_get_mode().mode == "n" and out.ghost_undone ~= out.after_ghost[1]
  end },
  -- The code action, from Neovim's own code action UI: reviewed, then accepted with `ga`.
  { "actions", function()
    vim.api.nvim_win_set_cursor(0, { tonumber(vim.env.AICOCKPIT_ACTION_ROW) + 1, 0 })
    local here = { line = tonumber(vim.env.AICOCKPIT_ACTION_ROW), character = 0 }
    local listed = client:request_sync("textDocument/codeAction", {
      textDocument = { uri = vim.uri_from_bufnr(buf) },
      range = { start = here, ["end"] = here },
      context = { diagnostics = {} },
    }, 60000, buf)
    out.titles = vim.tbl_map(function(a) return a.title end, listed and listed.result or {})
    out.lines_before_action = lines()
    vim.lsp.buf.code_action({
      filter = function(action) return action.title:find("^Apply AI instruction") ~= nil end,
      apply = true,
    })
  end, function()
    sample()
    out.action_review = proposed()
    return out.action_review ~= nil
  end },
  { "action_accepted", function() keys("ga") end, function()
    out.lines = lines()
    out.review_after_accept = proposed()
    out.diff_after_accept = vim.wo[source_win].diff
    return review.pending == nil and out.lines[tonumber(vim.env.AICOCKPIT_ACTION_ROW) + 1] ~= out.lines_before_action[tonumber(vim.env.AICOCKPIT_ACTION_ROW) + 1]
  end },
  -- <leader>ak's edit: rejected with `gr`, refused once the buffer changed, then accepted.
  { "edit_proposed", function() edit("edit_rejected") end, function()
    sample()
    out.edit_review = proposed()
    return out.edit_review ~= nil
  end },
  { "edit_rejected", function() keys("gr") end, function()
    out.lines_after_reject = lines()
    return out.edit_rejected ~= nil
  end },
  { "edit_stale", function() edit("edit_stale") end, function() return proposed() ~= nil end },
  { "edit_refused", function()
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, { "# typed meanwhile" })
    out.lines_when_stale = lines()
    keys("ga")
  end, function()
    out.lines_after_stale = lines()
    return out.edit_stale ~= nil
  end },
  { "edit_accepted", function()
    vim.api.nvim_buf_set_lines(buf, -2, -1, false, {})
    edit("edit")
  end, function()
    if proposed() and not out.edit_accept_sent then
      out.edit_accept_sent = true
      keys("ga")
    end
    return out.edit ~= nil
  end },
  { "edited", nil, function()
    out.lines_after_edit = lines()
    return true
  end },
  -- :AiChat opens a split at once and the answer streams into it.
  { "chat", function()
    vim.g.aicockpit_session = nil
    vim.cmd("AiChat what does @" .. vim.fn.fnamemodify(vim.env.AICOCKPIT_FILE, ":t") .. " do?")
    out.chat_opened = vim.api.nvim_buf_get_lines(0, 0, -1, false)
    chat_buf = vim.api.nvim_get_current_buf()
    out.chat_sizes = {}
  end, function()
    sample()
    out.chat_session = vim.g.aicockpit_session
    out.chat_lines = vim.api.nvim_buf_get_lines(chat_buf, 0, -1, false)
    out.chat_filetype = vim.bo[chat_buf].filetype
    return out.chat_session ~= nil
  end },
  -- "Explain this code with AI": the whole answer in the chat split, in a new session.
  { "explain", function()
    vim.api.nvim_set_current_win(source_win)
    local listed = client:request_sync("textDocument/codeAction", {
      textDocument = { uri = vim.uri_from_bufnr(buf) },
      range = { start = { line = 0, character = 0 }, ["end"] = { line = 3, character = 0 } },
      context = { diagnostics = {} },
    }, 60000, buf)
    for _, action in ipairs(listed and listed.result or {}) do
      if action.title == "Explain this code with AI" then
        out.explain_found = true
        vim.g.aicockpit_session = nil
        client:exec_cmd(action.command, { bufnr = buf })
      end
    end
  end, function()
    out.explain_session = vim.g.aicockpit_session
    out.explain_lines = vim.api.nvim_buf_get_lines(require("aicockpit.chat").buf, 0, -1, false)
    return not out.explain_found or out.explain_session ~= nil
  end },
  -- :AiChatSessions lists the sessions (vim.ui.select, as a picker plugin would) and reopens
  -- the chosen one in the split.
  { "sessions", function()
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
  end, function()
    out.reopened_session = vim.g.aicockpit_session
    out.reopened_lines = vim.api.nvim_buf_get_lines(require("aicockpit.chat").buf, 0, -1, false)
    return out.reopened_session ~= nil
  end },
}, out)
