-- Drives a real headless Neovim through next-edit suggestions with the integration's own keys:
-- a rename whose next use shows as extmarks and is taken with <Tab> in Normal mode, one
-- dismissed with <C-]> and one taken with <Tab> in Insert mode, one off screen reached by a
-- first <Tab> and applied by a second, and <Tab> indenting as ever while nothing is shown.
-- Keys go through Neovim's main loop (nvim_feedkeys), so the steps run from a timer
-- (steps.lua), never inside vim.wait. Writes what happened as JSON to $AICOCKPIT_OUT.
local runner = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/steps.lua")
local out = {}

local aicockpit = dofile(vim.env.AICOCKPIT_PLUGIN)
aicockpit.setup({
  cmd = vim.json.decode(vim.env.AICOCKPIT_CMD),
  init_options = vim.json.decode(vim.env.AICOCKPIT_INIT),
})
local namespaces = vim.api.nvim_get_namespaces()
local ns, hint_ns = namespaces.aicockpit_next_edit, namespaces.aicockpit_next_edit_hint

local keys = runner.keys
local function lines() return vim.api.nvim_buf_get_lines(0, 0, -1, false) end
local function client() return vim.lsp.get_clients({ name = "aicockpit", bufnr = 0 })[1] end

--- The suggestion as drawn: each extmark's struck-through text or inline/virtual-line text.
local function marks()
  local found = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })) do
    local d = m[4]
    local mark = { row = m[2], col = m[3], hl = d.hl_group }
    if d.end_row then
      mark.removed = table.concat(vim.api.nvim_buf_get_text(0, m[2], m[3], d.end_row, d.end_col, {}), "\n")
    end
    if d.virt_text then mark.inserted, mark.pos = d.virt_text[1][1], d.virt_text_pos end
    table.insert(found, mark)
  end
  return found
end
local function hint()
  local found = vim.api.nvim_buf_get_extmarks(0, hint_ns, 0, -1, { details = true })[1]
  return found and { row = found[2], text = found[4].virt_text[1][1] } or nil
end
local function tab_mapped(mode) return vim.fn.maparg("<Tab>", mode, false, true).desc == "aicockpit: take the next edit" end
local function counted(field)
  local r = client():request_sync("aicockpit/stats", vim.empty_dict(), 5000, 0)
  return r and r.result and r.result.next_edit[field] or 0
end
local function cursor() return vim.api.nvim_win_get_cursor(0) end

local steps = {
  { "attached", nil, function()
    local c = client()
    if not c then return false end
    local r = c:request_sync("aicockpit/stats", vim.empty_dict(), 5000, 0)
    return r and r.result and r.result.backends.scripted.state == "ready"
  end },
  -- Nothing shown: <Tab> is Neovim's own (it indents in Insert mode).
  { "tab_fallback", function()
    vim.api.nvim_win_set_cursor(0, { 3, 0 })
    keys("i<Tab><Esc>")
  end, function()
    out.tab_line = lines()[3]
    return out.tab_line ~= ""
  end },
  { "undo", function() keys("u") end, function() return lines()[3] == "" end },
  -- Normal mode: the user renames the parameter; its use below is suggested; <Tab> takes it.
  { "rename", function() keys("gg0f(lciwsize<Esc>") end, function()
    out.shown = marks()
    out.tab_mapped = { n = tab_mapped("n"), i = tab_mapped("i") }
    return #out.shown > 0
  end },
  { "accept", function() keys("<Tab>") end, function()
    out.after_accept = lines()
    out.cursor_after_accept = cursor()
    return out.after_accept[2] ~= "    return width * height"
  end },
  { "accepted_counted", function()
    out.marks_after_accept = marks()
    out.tab_mapped_after = { n = tab_mapped("n"), i = tab_mapped("i") }
  end, function() return counted("accepted") == 1 end },
  -- Insert mode: another rename, dismissed with <C-]>; the buffer keeps the user's text.
  { "rename_insert", function() keys("gg0f,wciwh") end, function()
    out.shown_insert = marks()
    return #out.shown_insert > 0
  end },
  { "dismiss", function() keys("<C-]>") end, function()
    out.after_dismiss = lines()
    out.mode_after_dismiss = vim.api.nvim_get_mode().mode
    return #marks() == 0
  end },
  { "dismissed_counted", nil, function() return counted("rejected") == 1 end },
  -- Typing on asks again; <Tab> in Insert mode takes it.
  { "retype", function() keys("x<BS>") end, function() return #marks() > 0 end },
  { "accept_insert", function() keys("<Tab>") end, function()
    out.after_accept_insert = lines()
    out.mode_after_accept_insert = vim.api.nvim_get_mode().mode
    return out.after_accept_insert[2] ~= "    return size * height"
  end },
  { "normal", function() keys("<Esc>") end, function() return vim.api.nvim_get_mode().mode == "n" end },
  -- Off screen: a first <Tab> moves the cursor to it, a second applies it.
  { "far_file", function() vim.cmd.edit(vim.env.AICOCKPIT_FAR) end, function() return client() ~= nil end },
  { "rename_far", function() keys("gg0f(lciwk<Esc>") end, function()
    out.far_hint = hint()
    out.far_shown = marks()
    out.far_window = { vim.fn.line("w0"), vim.fn.line("w$") }
    return #out.far_shown > 0
  end },
  { "jump", function() keys("<Tab>") end, function()
    out.cursor_after_jump = cursor()
    out.far_after_jump = lines()
    return out.cursor_after_jump[1] ~= 1
  end },
  { "accept_far", function()
    out.marks_after_jump = marks()
    keys("<Tab>")
  end, function()
    out.far_after_accept = lines()
    return out.far_after_accept[#out.far_after_accept] ~= "    return factor * 2"
  end },
}

vim.cmd.edit(vim.env.AICOCKPIT_FILE)
runner.run(steps, out)
