-- Ghost text: the model's suggestion as virtual text at the cursor in Insert mode.
--
-- Neovim 0.12+ has it natively (vim.lsp.inline_completion): it is enabled for aicockpit's
-- client, and the keys below take its suggestion through vim.lsp.inline_completion.get().
-- On Neovim 0.11 it is drawn here: every change in Insert mode asks
-- textDocument/inlineCompletion at once (the server waits for the typing pause and answers
-- older requests empty, so no timer is kept here), and the answer is shown only for the
-- buffer version and cursor it was asked for. Typing what it shows keeps the rest on screen.
--
-- The keys are buffer-local Insert-mode mappings; with no suggestion shown they do what the
-- key did before (a global mapping of it, else Neovim's own meaning).
local M = {}

M.DEFAULTS = { accept = "<Tab>", accept_word = "<M-Right>", accept_line = "<M-C-Right>", dismiss = "<C-]>" }
M.native = vim.lsp.inline_completion ~= nil
local ns = vim.api.nvim_create_namespace("aicockpit_ghost_text")
--- Per buffer: client, request = { id } (in flight), asked (version:row:col last handled),
--- shown = { row, col (byte), text, command }: the suggestion starts at row, col (what is
--- typed from there on must be its beginning for the rest to stay shown).
local states = {}

local function highlights()
  vim.api.nvim_set_hl(0, "AicockpitGhostText", { default = true, link = "Comment" })
end

--- The next word of `text` (spaces before it included), or its run of punctuation or blanks.
function M.next_word(text)
  return text:match("^[ \t]*[%w_]+") or text:match("^[ \t]*[^%w_%s]+") or text:match("^%s+") or text
end

--- The rest of the current line of `text`; at a line break, the break and the next line.
function M.next_line(text)
  if text:sub(1, 1) == "\n" then return "\n" .. text:sub(2):match("^[^\n]*") end
  return text:match("^[^\n]*")
end

local function cursor(win)
  local pos = vim.api.nvim_win_get_cursor(win)
  return pos[1] - 1, pos[2]
end

local function in_insert_mode() return vim.api.nvim_get_mode().mode:sub(1, 1) == "i" end

--- What is left of the shown suggestion with the cursor at row, col: nil when the text typed
--- since it was drawn is not its beginning (or nothing is left).
local function remaining(bufnr, shown, row, col)
  if row ~= shown.row or col < shown.col then return nil end
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  local typed = line:sub(shown.col + 1, col)
  if typed ~= shown.text:sub(1, #typed) or #typed >= #shown.text then return nil end
  return shown.text:sub(#typed + 1)
end

local function clear(bufnr)
  local state = states[bufnr]
  if state then state.shown = nil end
  if vim.api.nvim_buf_is_valid(bufnr) then vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1) end
end

--- Draws what is left of the suggestion at the cursor: its first line inline, the others below.
local function draw(bufnr, text, row, col)
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  if vim.fn.pumvisible() == 1 then return end -- a completion menu is open: it has the cursor
  local lines = vim.split(text, "\n", { plain = true })
  local virt = function(line) return { { line, "AicockpitGhostText" } } end
  vim.api.nvim_buf_set_extmark(bufnr, ns, row, col, {
    virt_text = virt(table.remove(lines, 1)),
    virt_text_pos = "inline",
    virt_lines = #lines > 0 and vim.tbl_map(virt, lines) or nil,
    hl_mode = "combine",
  })
end

local function cancel(state)
  local pending = state.request
  state.request = nil
  if pending and pending.id and not state.client:is_stopped() then state.client:cancel_request(pending.id) end
end

--- The item to show, anchored where it starts: an insertion at the cursor (or a little
--- before it, over text typed since). Items that replace text are next edits: not shown here.
local function usable(bufnr, client, result, row, col)
  local function anchor(range)
    if not range then return row, col end
    local s, e = range.start, range["end"]
    if s.line ~= e.line or s.character ~= e.character then return nil end
    local line = vim.api.nvim_buf_get_lines(bufnr, s.line, s.line + 1, false)[1] or ""
    return s.line, vim.str_byteindex(line, client.offset_encoding, s.character, false)
  end
  for _, item in ipairs(result.items or result) do
    local at_row, at_col = anchor(item.range)
    if at_row and type(item.insertText) == "string" and item.insertText ~= "" then
      local shown = { row = at_row, col = at_col, text = item.insertText, command = item.command }
      if remaining(bufnr, shown, row, col) then return shown end
    end
  end
end

local function request(bufnr)
  local state = states[bufnr]
  cancel(state)
  local win = vim.api.nvim_get_current_win()
  if vim.api.nvim_win_get_buf(win) ~= bufnr or not in_insert_mode() or state.client:is_stopped() then return end
  local client = state.client
  local params = vim.lsp.util.make_position_params(win, client.offset_encoding)
  params.context = { triggerKind = 2 } -- Automatic: asked while typing, not by a key
  local version, row, col = vim.lsp.util.buf_versions[bufnr], cursor(win)
  local pending = {}
  state.request = pending
  local ok, id = client:request("textDocument/inlineCompletion", params, function(err, result)
    if state.request ~= pending then return end -- a newer one was asked
    state.request = nil
    if err or not result or not vim.api.nvim_buf_is_valid(bufnr) then return end
    -- Only for the text and cursor it was asked for: never for a version the buffer has left.
    if vim.lsp.util.buf_versions[bufnr] ~= version or not in_insert_mode() then return end
    if vim.api.nvim_get_current_buf() ~= bufnr then return end
    local now_row, now_col = cursor(0)
    if now_row ~= row or now_col ~= col then return end
    local shown = usable(bufnr, client, result, row, col)
    if not shown then return clear(bufnr) end
    state.shown = shown
    draw(bufnr, remaining(bufnr, shown, row, col), row, col)
  end, bufnr)
  pending.id = ok and id or nil
  if not ok then state.request = nil end
end

--- A change or a cursor move in Insert mode: keep what is typed through, ask again.
local function on_insert_event(bufnr)
  local state = states[bufnr]
  local win = vim.api.nvim_get_current_win()
  if not state or vim.api.nvim_win_get_buf(win) ~= bufnr then return end
  local version, row, col = vim.lsp.util.buf_versions[bufnr], cursor(win)
  local asked = table.concat({ version, row, col }, ":")
  if asked == state.asked then return end -- TextChangedI and CursorMovedI for one keystroke
  state.asked = asked
  local shown = state.shown
  local rest = shown and remaining(bufnr, shown, row, col)
  if rest then
    draw(bufnr, rest, row, col)
  else
    clear(bufnr)
  end
  request(bufnr)
end

--- Takes the shown suggestion on Neovim 0.11 (how: "all", "word" or "line") as one undo step.
--- Returns false when none is shown.
function M.accept(bufnr, how)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = states[bufnr]
  local shown = state and state.shown
  local win = vim.api.nvim_get_current_win()
  if not shown or vim.api.nvim_win_get_buf(win) ~= bufnr then return false end
  local row, col = cursor(win)
  local rest = remaining(bufnr, shown, row, col)
  if not rest then
    clear(bufnr)
    return false
  end
  local part = (how == "word" and M.next_word(rest)) or (how == "line" and M.next_line(rest)) or rest
  local lines = vim.split(part, "\n", { plain = true })
  -- Setting 'undolevels' closes the undo block: the suggestion is an undo step of its own.
  vim.o.undolevels = vim.o.undolevels
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
  local end_row, end_col = row + #lines - 1, (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(win, { end_row + 1, end_col })
  vim.o.undolevels = vim.o.undolevels
  if part == rest then
    clear(bufnr)
    -- As VS Code does: the item's command tells the server it was taken (it prefetches the next).
    if shown.command and not state.client:is_stopped() then state.client:exec_cmd(shown.command, { bufnr = bufnr }) end
  else
    -- The rest stays, anchored after what was taken.
    state.shown = { row = end_row, col = end_col, text = rest:sub(#part + 1), command = shown.command }
    draw(bufnr, state.shown.text, end_row, end_col)
  end
  return true
end

--- The native (0.12) item as it is taken: what is left of it after the text typed since it
--- was asked for (Neovim keeps showing it meanwhile, and would insert all of it where it was
--- asked), and only its next word or line for those keys. nil: it no longer fits the text.
local function native_item(bufnr, item, how)
  local text = item.insert_text
  if type(text) ~= "string" or (item.range and not item.range:is_empty()) then return item end
  local row, col = cursor(0)
  local start_row, start_col = row, col
  if item.range then start_row, start_col = item.range:to_extmark() end
  local rest = remaining(bufnr, { row = start_row, col = start_col, text = text }, row, col)
  if not rest then return nil end
  local part = (how == "word" and M.next_word(rest)) or (how == "line" and M.next_line(rest)) or rest
  item.insert_text = part
  item.range = vim.range.extmark(bufnr, row, col, row, col)
  if part ~= rest then item.command = nil end -- taken in part: not what the server made (as in VS Code)
  return item
end

--- Takes the native (0.12) suggestion, or its next word or line, as one undo step.
local function accept_native(bufnr, how)
  local taken = vim.lsp.inline_completion.get({
    bufnr = bufnr,
    on_accept = function(item)
      item = native_item(bufnr, item, how)
      if item then vim.o.undolevels = vim.o.undolevels end -- closes the undo block of the typing before
      return item
    end,
  })
  -- get() applies the item in a callback it schedules: this one runs after it.
  if taken then vim.schedule(function() vim.o.undolevels = vim.o.undolevels end) end
  return taken
end

function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if M.native then
    -- get() takes down what is shown; an on_accept that returns nil applies nothing.
    return vim.lsp.inline_completion.get({ bufnr = bufnr, on_accept = function() return nil end })
  end
  local state = states[bufnr]
  if not (state and state.shown) then return false end
  clear(bufnr)
  return true
end

--- The key's own meaning: a global Insert-mode mapping of it, else Neovim's.
local function fallback(lhs)
  local code = vim.keycode(lhs)
  local feed = function(keys, noremap) vim.api.nvim_feedkeys(keys, (noremap and "n" or "m") .. "i", false) end
  for _, m in ipairs(vim.api.nvim_get_keymap("i")) do
    if vim.keycode(m.lhs) == code then
      local noremap = m.noremap == 1
      if m.callback then
        local keys = m.callback()
        if m.expr == 1 and type(keys) == "string" then feed(m.replace_keycodes == 1 and vim.keycode(keys) or keys, noremap) end
      elseif m.expr == 1 then
        feed(vim.api.nvim_eval(m.rhs), noremap)
      else
        feed(vim.keycode(m.rhs), noremap)
      end
      return
    end
  end
  feed(code, true)
end

local function map(bufnr, lhs, action, desc)
  if not lhs or lhs == "" then return end
  vim.keymap.set("i", lhs, function()
    if not action() then fallback(lhs) end
  end, { buffer = bufnr, desc = desc })
end

--- Shows aicockpit's suggestions as ghost text in the buffer, with `keys` (M.DEFAULTS' fields).
function M.attach(client, bufnr, keys)
  highlights()
  local function accept(how)
    return function()
      if M.native then return accept_native(bufnr, how) end
      return M.accept(bufnr, how)
    end
  end
  map(bufnr, keys.accept, accept("all"), "aicockpit: take the suggestion")
  map(bufnr, keys.accept_word, accept("word"), "aicockpit: take the suggestion's next word")
  map(bufnr, keys.accept_line, accept("line"), "aicockpit: take the suggestion's next line")
  map(bufnr, keys.dismiss, function() return M.dismiss(bufnr) end, "aicockpit: dismiss the suggestion")
  if M.native then
    vim.lsp.inline_completion.enable(true, { client_id = client.id })
    return
  end
  if states[bufnr] then return end
  states[bufnr] = { client = client }
  local group = vim.api.nvim_create_augroup("aicockpit_ghost_text_" .. bufnr, { clear = true })
  local on = function(events, fn) vim.api.nvim_create_autocmd(events, { group = group, buffer = bufnr, callback = fn }) end
  on({ "TextChangedI", "CursorMovedI" }, function() on_insert_event(bufnr) end)
  -- InsertEnter comes before Insert mode starts (and the cursor moves there).
  on("InsertEnter", function() vim.schedule(function() on_insert_event(bufnr) end) end)
  on({ "InsertLeave", "BufLeave" }, function()
    local state = states[bufnr]
    if not state then return end
    cancel(state)
    state.asked = nil
    clear(bufnr)
  end)
  on({ "BufUnload", "LspDetach" }, function(ev)
    local state = states[bufnr]
    if not state or (ev.event == "LspDetach" and ev.data.client_id ~= state.client.id) then return end
    cancel(state)
    clear(bufnr)
    states[bufnr] = nil
    vim.api.nvim_del_augroup_by_id(group)
  end)
  vim.api.nvim_create_autocmd("ColorScheme", { group = group, callback = highlights })
end

--- The client capabilities that say how suggestions come: ghost text (inline completion) or,
--- without it, the completion item for omnifunc, nvim-cmp or blink.cmp.
function M.declare(capabilities, ghost_text)
  local text_document = capabilities.textDocument or {}
  capabilities.textDocument = text_document
  text_document.inlineCompletion = ghost_text and { dynamicRegistration = false } or nil
end

return M
