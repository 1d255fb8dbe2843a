-- Drives a real headless Neovim against `aicockpit serve`: completion, inline
-- completion, and the "Apply AI instruction" code action. Writes what happened
-- as JSON to $AICOCKPIT_OUT for the pytest side to check.
local out = {}
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
      chat = { max_tokens = 48 },
    },
  })
  vim.cmd.edit(vim.env.AICOCKPIT_FILE)
  local buf = vim.api.nvim_get_current_buf()
  assert(vim.wait(30000, function()
    return #vim.lsp.get_clients({ name = "aicockpit", bufnr = buf }) > 0
  end, 100), "aicockpit did not attach")
  local client = vim.lsp.get_clients({ name = "aicockpit", bufnr = buf })[1]
  local uri = vim.uri_from_bufnr(buf)

  out.ready = vim.wait(240000, function()
    local r = client:request_sync("aicockpit/stats", vim.empty_dict(), 5000, buf)
    return r ~= nil and r.result ~= nil and r.result.engine.state == "ready"
  end, 500)

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
  vim.wait(120000, function() return edited ~= nil end, 100)
  out.edit = edited
  out.lines_after_edit = vim.api.nvim_buf_get_lines(buf, 0, -1, false)

  -- :AiChat opens the answer in a split.
  vim.cmd("AiChat what does @" .. vim.fn.fnamemodify(vim.env.AICOCKPIT_FILE, ":t") .. " do?")
  vim.wait(120000, function() return vim.g.aicockpit_session ~= nil end, 100)
  out.chat_session = vim.g.aicockpit_session
  out.chat_lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  out.chat_filetype = vim.bo.filetype
  client:stop()
  vim.wait(10000, function() return client:is_stopped() end, 100)
end)
if not ok then out.error = tostring(err) end
finish()
