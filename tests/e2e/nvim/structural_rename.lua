-- Drives a real headless Neovim through a rename with the integration's own keys: the user
-- renames a parameter with `ciw`, and takes each next edit aicockpit shows with <Tab> (a first
-- <Tab> moves to one off screen, the next applies it) until none is shown any more. Keys go
-- through Neovim's main loop (nvim_feedkeys) from a timer. Writes what happened as JSON to
-- $AICOCKPIT_OUT.
local out = { tabs = 0, shown = {} }
local function finish(error)
  out.error = error
  out.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local f = assert(io.open(vim.env.AICOCKPIT_OUT, "w"))
  f:write(vim.json.encode(out))
  f:close()
  vim.cmd("qa!")
end

local aicockpit = dofile(vim.env.AICOCKPIT_PLUGIN)
aicockpit.setup({
  cmd = vim.json.decode(vim.env.AICOCKPIT_CMD),
  init_options = vim.json.decode(vim.env.AICOCKPIT_INIT),
  next_edit = { debounce_ms = 150 },
})
local ns = vim.api.nvim_get_namespaces().aicockpit_next_edit
local function keys(k)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(k, true, false, true), "t", false)
end
local function client() return vim.lsp.get_clients({ name = "aicockpit", bufnr = 0 })[1] end
local function marks() return #vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {}) end

vim.cmd.edit(vim.env.AICOCKPIT_FILE)
local started, renamed, quiet_since, busy = vim.uv.now(), false, nil, false
local timer = vim.uv.new_timer()
timer:start(100, 100, vim.schedule_wrap(function()
  if busy then return end
  busy = true
  local ok, err = pcall(function()
    if vim.uv.now() - started > 90000 then return finish("timed out") end
    local c = client()
    if not c then return end
    if not renamed then
      local r = c:request_sync("aicockpit/stats", vim.empty_dict(), 5000, 0)
      if not (r and r.result and r.result.backends.scripted.state == "ready") then return end
      renamed = true
      vim.api.nvim_win_set_cursor(0, { tonumber(vim.env.AICOCKPIT_LINE), tonumber(vim.env.AICOCKPIT_COL) })
      keys("ciw" .. vim.env.AICOCKPIT_NEW .. "<Esc>")
      quiet_since = vim.uv.now()
      return
    end
    if marks() > 0 then
      local row = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {})[1][2]
      table.insert(out.shown, row)
      out.tabs = out.tabs + 1
      keys("<Tab>")
      quiet_since = vim.uv.now()
    elseif vim.uv.now() - quiet_since > 3000 then
      -- Nothing shown for 3 s after the last change: the rename is complete.
      local r = c:request_sync("aicockpit/stats", vim.empty_dict(), 5000, 0)
      out.next_edit = r and r.result and r.result.next_edit
      c:stop()
      vim.wait(10000, function() return c:is_stopped() end, 100)
      finish(nil)
    end
  end)
  busy = false
  if not ok then finish(tostring(err)) end
end))
