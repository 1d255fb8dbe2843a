-- Drives ghost text in a real headless Neovim (0.11: drawn by the integration; 0.12: Neovim's
-- own inline completion) with the integration's keys: <Tab> indenting while nothing is shown,
-- a suggestion typed through and taken as one undo step, one taken a word and a line at a
-- time, one dismissed with <C-]>, one dismissed by typing on, and none drawn for a text that
-- changed while it was asked for. The model is scripted (tests/e2e/scripted_model.py).
local steps = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/steps.lua")
local keys, lines = steps.keys, steps.lines
local out = { native = vim.lsp.inline_completion ~= nil }

local aicockpit = dofile(vim.env.AICOCKPIT_PLUGIN)
aicockpit.setup({ cmd = vim.json.decode(vim.env.AICOCKPIT_CMD), init_options = vim.json.decode(vim.env.AICOCKPIT_INIT) })

--- The ghost text drawn in the buffer: { row, col, text (inline), pos, below (lines) }.
local function ghost()
  local name = out.native and "nvim.lsp.inline_completion" or "aicockpit_ghost_text"
  local ns = vim.api.nvim_get_namespaces()[name]
  local mark = ns and vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })[1]
  if not mark then return nil end
  local d = mark[4]
  local below = vim.tbl_map(function(l) return l[1][1] end, d.virt_lines or {})
  return { row = mark[2], col = mark[3], text = d.virt_text and d.virt_text[1][1] or "", pos = d.virt_text_pos, below = below }
end
local function line(n) return lines()[n] end
local function mode() return vim.api.nvim_get_mode().mode end
local function row_of(text)
  for i, l in ipairs(lines()) do
    if l == text then return i end
  end
end

-- textDocument/inlineCompletion requests: the latest one asked since `forget()`, and those
-- answered (or cancelled).
local requests = { done = {} }
local function forget() requests.latest = nil end
local function answered() return requests.latest ~= nil and requests.done[requests.latest] == true end
vim.api.nvim_create_autocmd("LspRequest", {
  callback = function(ev)
    local r = ev.data.request
    if r.method ~= "textDocument/inlineCompletion" then return end
    if r.type == "pending" then
      requests.latest = ev.data.request_id
      if requests.on_asked then requests.on_asked() end
    else
      requests.done[ev.data.request_id] = true
    end
  end,
})

local function shows(text)
  return function()
    local g = ghost()
    return g ~= nil and g.text == text
  end
end

local script = {
  { "ready", function() vim.cmd.edit(vim.env.AICOCKPIT_FILE) end, function()
    local stats = steps.client() and steps.stats()
    return stats ~= nil and stats.backends.scripted.state == "ready"
  end },
  -- Nothing shown: <Tab> keeps its meaning (Python's ftplugin indents four spaces).
  { "tab_fallback", function()
    vim.api.nvim_win_set_cursor(0, { #lines(), 0 })
    keys("i<Tab><Esc>")
  end, function()
    out.tab_line = lines()[#lines()]
    return mode() == "n" and out.tab_line ~= ""
  end },
  { "undo_tab", function() keys("u") end, function() return lines()[#lines()] == "" end },
  -- After a pause in Insert mode, the suggestion at the cursor.
  { "shown", function() keys(row_of("    total = ") .. "GA") end, function()
    out.shown = ghost()
    return out.shown ~= nil and out.shown.text ~= ""
  end },
  -- Typing what it shows keeps the rest on screen.
  { "typed_through", function() keys("su") end, function()
    out.typed_through = ghost()
    return out.typed_through ~= nil and out.typed_through.text == "m(prices)"
  end },
  { "accept", function() keys("<Tab>") end, function()
    out.after_accept = line(2)
    out.ghost_after_accept = ghost()
    out.mode_after_accept = mode()
    return out.after_accept ~= "    total = su"
  end },
  { "accepted_counted", nil, function() return steps.stats().accepted == 1 end },
  { "undo_accept", function() keys("<Esc>u") end, function()
    out.after_undo = line(2)
    return mode() == "n" and out.after_undo ~= "    total = sum(prices)"
  end },
  -- Several lines: the first inline, the others below; taken a word, then a line at a time.
  { "multi", function() keys(row_of("    ") .. "GA") end, function()
    out.multi = ghost()
    return out.multi ~= nil and #out.multi.below > 0
  end },
  { "word", function() keys("<M-Right>") end, function()
    out.after_word = line(row_of("def mean(values):") + 1)
    out.multi_after_word = ghost()
    return out.after_word ~= "    " and shows(" = sum(values) / len(values)")()
  end },
  { "line", function() keys("<M-C-Right>") end, function()
    out.after_line = line(row_of("def mean(values):") + 1)
    out.multi_after_line = ghost()
    return out.multi_after_line ~= nil and out.multi_after_line.text == "" and #out.multi_after_line.below > 0
  end },
  { "rest", function() keys("<Tab>") end, function()
    local first = row_of("def mean(values):")
    out.after_rest = vim.list_slice(lines(), first + 1, first + 3)
    return ghost() == nil and out.after_rest[2] ~= "    return result"
  end },
  -- <C-]> dismisses it: the text stays as typed, in Insert mode.
  { "shown_again", function() keys("<Esc>" .. row_of("    total = su") .. "GA") end, shows("m(prices)") },
  { "dismiss", function() keys("<C-]>") end, function()
    out.after_dismiss = line(2)
    out.mode_after_dismiss = mode()
    return ghost() == nil
  end },
  -- Typing something else takes it down (the model has nothing for `sux`).
  { "shown_third", function() keys("<BS>u") end, shows("m(prices)") },
  { "typed_on", function()
    forget()
    keys("x")
  end, function()
    out.ghost_after_typing_on = ghost()
    return answered()
  end },
}
-- 0.11 (drawn here): a change while the suggestion is asked for, announced by no event, and
-- the answer is not drawn. (Neovim 0.12 draws what comes while in Insert mode: its own.)
if not out.native then
  table.insert(script, { "stale", function()
    keys("<BS>")
    forget()
    requests.on_asked = function()
      requests.on_asked = nil
      vim.o.eventignore = "TextChangedI,CursorMovedI,TextChanged"
      vim.api.nvim_buf_set_lines(0, -1, -1, false, { "# changed meanwhile" })
    end
  end, function()
    if not answered() then return false end
    out.ghost_after_stale = ghost()
    out.lines_after_stale = lines()
    vim.o.eventignore = ""
    return true
  end })
end
steps.run(script, out)
