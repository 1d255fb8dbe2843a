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
  vim.cmd.edit(vim.env.AICOCKPIT_FILE)
  local buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start({
    name = "aicockpit",
    cmd = vim.json.decode(vim.env.AICOCKPIT_CMD),
    root_dir = vim.env.AICOCKPIT_ROOT,
    init_options = { completion = { max_tokens = 16 }, edit = { max_tokens = 48 } },
  })
  local client = assert(vim.lsp.get_client_by_id(id))
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
  client:stop()
  vim.wait(10000, function() return client:is_stopped() end, 100)
end)
if not ok then out.error = tostring(err) end
finish()
