-- aicockpit for Neovim 0.11+: ghost text (Neovim 0.12's own inline completion, drawn here on
-- 0.11), next-edit suggestions, AI code actions and edits reviewed as a diff, a streamed
-- :AiChat, and the server's progress and health where you can see it.
--
--   dofile("/path/to/aicockpit/editors/neovim/aicockpit.lua").setup({
--     cmd = { "/path/to/aicockpit/.venv/bin/aicockpit", "serve" },
--   })
--
-- Its parts are in lua/aicockpit/ beside this file: loading it puts this folder on
-- 'runtimepath' (which also gives `:checkhealth aicockpit`), and `require("aicockpit")`
-- returns this module afterwards.
local here = vim.fs.dirname(debug.getinfo(1, "S").source:sub(2))
if not vim.tbl_contains(vim.api.nvim_list_runtime_paths(), here) then vim.opt.runtimepath:append(here) end
local ghost_text = require("aicockpit.ghost_text")
local review = require("aicockpit.review")
local health = require("aicockpit.health")
local chat = require("aicockpit.chat")

local M = {}
package.loaded["aicockpit"] = M

--- Work-done progress of aicockpit now running, by token: { title, message, cancellable }.
M.running = {}
local options = {}

local function client_for(bufnr)
  return vim.lsp.get_clients({ name = "aicockpit", bufnr = bufnr or 0 })[1]
    or vim.lsp.get_clients({ name = "aicockpit" })[1]
end

--- What aicockpit is doing, or what fails, for a statusline: "aicockpit: editing app.py: 3
--- lines written", "slow: 6.1 s to first token on this machine". Empty when idle and well.
--- (vim.lsp.status() reports the progress messages of every server.)
function M.status()
  local parts = {}
  for _, p in pairs(M.running) do
    parts[#parts + 1] = p.message and p.message ~= "" and (p.title .. ": " .. p.message) or p.title
  end
  table.sort(parts)
  local failing = health.line()
  if failing ~= "" then table.insert(parts, 1, "aicockpit: " .. failing) end
  return table.concat(parts, ", ")
end

--- status() as a statusline component, failures in the AicockpitWarning colour:
---   vim.o.statusline = "%f %m%=%{%v:lua.require'aicockpit'.statusline()%}  %l:%c"
function M.statusline()
  local text = M.status():gsub("%%", "%%%%")
  local failing = health.line()
  if failing == "" then return text end
  local head = ("aicockpit: " .. failing):gsub("%%", "%%%%")
  return "%#AicockpitWarning#" .. head .. "%*" .. text:sub(#head + 1)
end

local function show(text)
  if options.progress == false then return end
  -- Cut to the command line: a longer message would stop the editor at a hit-enter prompt.
  if vim.fn.strdisplaywidth(text) > vim.v.echospace then
    text = vim.fn.strcharpart(text, 0, math.max(vim.v.echospace - 1, 0)) .. "…"
  end
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
    local stream = chat.streams[params.token]
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
  for id in pairs(chat.requests) do client:cancel_request(id) end
end

local function reviewing() return options.review ~= false end

--- Shows an AI edit for review (or applies it at once with `review = false`); on_done(accepted).
local function propose(bufnr, client, edit, title, version, on_done)
  if not reviewing() then
    vim.lsp.util.apply_workspace_edit(edit, client.offset_encoding)
    return on_done(true)
  end
  review.propose(bufnr, edit, {
    title = title, version = version, encoding = client.offset_encoding, keys = options.review, on_done = on_done,
  })
end

--- Rewrite lines first..last (0-based, inclusive) of the current buffer as instructed: shown
--- as a diff to accept or reject (`review = false`: applied at once). on_done(err, result),
--- result.applied saying whether the buffer changed.
function M.edit(instruction, first, last, on_done)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then return vim.notify("aicockpit is not running here", vim.log.levels.WARN) end
  local version = vim.lsp.util.buf_versions[bufnr]
  client:exec_cmd({
    title = "AI edit",
    command = reviewing() and "aicockpit.previewEdit" or "aicockpit.edit",
    arguments = { {
      uri = vim.uri_from_bufnr(bufnr),
      instruction = instruction,
      version = version,
      range = { start = { line = first, character = 0 }, ["end"] = { line = last + 1, character = 0 } },
    } },
  }, { bufnr = bufnr }, function(err, result)
    if err then vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR) end
    if err or not reviewing() then
      if on_done then on_done(err, result) end
      return
    end
    propose(bufnr, client, result.edit, instruction, result.version or version, function(accepted)
      if on_done then on_done(nil, { applied = accepted }) end
    end)
  end)
end

--- An AI code action (aicockpit.applyAction, offered because this client asks for commands
--- instead of edits): the server computes the edit in codeAction/resolve, it is reviewed here.
local function review_code_action(command, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local data = command.arguments and command.arguments[1]
  if not client or type(data) ~= "table" then return end
  client:request("codeAction/resolve", { title = command.title, data = data }, function(err, resolved)
    if err then return vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR) end
    if not (resolved and resolved.edit) then return vim.notify("aicockpit: no change proposed", vim.log.levels.INFO) end
    propose(ctx.bufnr, client, resolved.edit, command.title, data.version, function(accepted)
      if accepted and resolved.command then client:exec_cmd(resolved.command, { bufnr = ctx.bufnr }) end
    end)
  end, ctx.bufnr)
end

local function running_client()
  local client = client_for(0)
  if not client then vim.notify("aicockpit is not running here", vim.log.levels.WARN) end
  return client
end

--- Ask aicockpit; the answer streams into a split. @path and @symbol add context.
--- opts: session (default: the current one; false starts a new one), uri and selection
--- (an LSP range) to ask about, on_done(err, result).
function M.chat(message, opts)
  if type(opts) == "function" then opts = { on_done = opts } end -- the old (message, on_done)
  local client = running_client()
  if client then chat.ask(client, message, opts or {}) end
end

--- "Explain this code with AI" (a code action): the whole answer, streamed into the chat split,
--- in a new session that :AiChat then continues.
function M.explain(args, on_done)
  local client = running_client()
  if client then chat.explain(client, args, on_done) end
end

--- Pick one of this workspace's chat sessions (vim.ui.select) and reopen it in the split.
function M.sessions(on_done)
  local client = running_client()
  if client then chat.sessions(client, on_done) end
end

-- Next-edit suggestions ------------------------------------------------------------------
-- Once an edit settles, aicockpit/nextEdit proposes the change the user will likely make
-- next (the next use of a renamed parameter...). It shows as extmarks: the text it removes
-- highlighted as deleted, the text it inserts as virtual text beside it. While one is
-- shown, buffer-local keys take it or dismiss it; otherwise those keys do what they did.

local NEXT_EDIT_DEFAULTS = { accept = "<Tab>", dismiss = "<Esc>", dismiss_insert = "<C-]>" }
local next_ns = vim.api.nvim_create_namespace("aicockpit_next_edit")
local hint_ns = vim.api.nvim_create_namespace("aicockpit_next_edit_hint")
--- Per buffer: request = { client, id }, asked (the version last asked about),
--- shown = { client, id, version, edits, maps }.
local next_edits = {}

local function next_options()
  return vim.tbl_extend("force", NEXT_EDIT_DEFAULTS, type(options.next_edit) == "table" and options.next_edit or {})
end

local function highlights()
  local deleted = vim.api.nvim_get_hl(0, { name = "DiffDelete", link = false })
  vim.api.nvim_set_hl(0, "AicockpitNextEditDelete", { default = true, strikethrough = true, fg = deleted.fg })
  vim.api.nvim_set_hl(0, "AicockpitNextEditInsert", { default = true, link = "DiffAdd" })
  vim.api.nvim_set_hl(0, "AicockpitNextEditHint", { default = true, link = "Comment" })
  vim.api.nvim_set_hl(0, "AicockpitWarning", { default = true, link = "WarningMsg" })
end

--- An LSP position as a 0-based (row, byte column) of the buffer, clamped to its text.
local function byte_pos(bufnr, pos, encoding)
  local count = vim.api.nvim_buf_line_count(bufnr)
  if pos.line >= count then
    local last = vim.api.nvim_buf_get_lines(bufnr, count - 1, count, false)[1] or ""
    return count - 1, #last
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, pos.line, pos.line + 1, false)[1] or ""
  return pos.line, vim.str_byteindex(line, encoding, pos.character, false)
end

local function first_edit(edits)
  local first
  for _, edit in ipairs(edits) do
    local s = edit.range.start
    if not first or s.line < first.line or (s.line == first.line and s.character < first.character) then first = s end
  end
  return first
end

--- Whether the first edit's line is in the window's view (else the first accept jumps to it).
local function on_screen(win, edits)
  local line = first_edit(edits).line + 1
  return vim.fn.line("w0", win) <= line and line <= vim.fn.line("w$", win)
end

local function draw_hint(bufnr)
  local shown = next_edits[bufnr] and next_edits[bufnr].shown
  vim.api.nvim_buf_clear_namespace(bufnr, hint_ns, 0, -1)
  local win = vim.fn.bufwinid(bufnr)
  if not shown or win == -1 or on_screen(win, shown.edits) then return end
  local row = vim.api.nvim_win_get_cursor(win)[1] - 1
  local target = first_edit(shown.edits).line
  local text = string.format("%s next edit at line %d (%s)", target < row and "↑" or "↓", target + 1, next_options().accept)
  vim.api.nvim_buf_set_extmark(bufnr, hint_ns, row, 0, {
    virt_text = { { "  " .. text, "AicockpitNextEditHint" } },
    virt_text_pos = "eol",
  })
end

local function unmap(bufnr, shown)
  for _, m in ipairs(shown.maps or {}) do
    pcall(vim.keymap.del, m.mode, m.lhs, { buffer = bufnr })
    if m.saved then vim.api.nvim_buf_call(bufnr, function() vim.fn.mapset(m.saved) end) end
  end
end

--- Takes the suggestion down (extmarks, keys) without telling the server; returns it.
local function clear_next_edit(bufnr)
  local state = next_edits[bufnr]
  local shown = state and state.shown
  if not shown then return nil end
  state.shown = nil
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, next_ns, 0, -1)
    vim.api.nvim_buf_clear_namespace(bufnr, hint_ns, 0, -1)
    unmap(bufnr, shown)
  end
  return shown
end

local function feedback(shown, accepted)
  if not shown.client:is_stopped() then
    shown.client:notify("aicockpit/nextEdit/feedback", { id = shown.id, accepted = accepted })
  end
end

--- Dismiss the suggestion shown in the buffer (default: the current one).
function M.dismiss_next_edit(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local shown = clear_next_edit(bufnr)
  if shown then feedback(shown, false) end
end

--- Take the suggestion shown in the buffer: apply it, or first move the cursor to it when it
--- is off screen. Returns false when there was none to take.
function M.accept_next_edit(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = next_edits[bufnr]
  local shown = state and state.shown
  if not shown then return false end
  -- The edits are positions in one version of the text: never apply them to another.
  if vim.lsp.util.buf_versions[bufnr] ~= shown.version then
    M.dismiss_next_edit(bufnr)
    return false
  end
  local win = vim.fn.bufwinid(bufnr)
  if win ~= -1 and not on_screen(win, shown.edits) then
    local row, col = byte_pos(bufnr, first_edit(shown.edits), shown.client.offset_encoding)
    vim.api.nvim_win_set_cursor(win, { row + 1, col })
    draw_hint(bufnr)
    return true
  end
  clear_next_edit(bufnr)
  feedback(shown, true) -- before the change reaches the server, while it is still its latest
  -- The cursor goes to the end of the last edit: a mark at its start follows the edits before it.
  local last = shown.edits[1]
  for _, edit in ipairs(shown.edits) do
    local s, l = edit.range.start, last.range.start
    if s.line > l.line or (s.line == l.line and s.character > l.character) then last = edit end
  end
  local row, col = byte_pos(bufnr, last.range.start, shown.client.offset_encoding)
  local mark = vim.api.nvim_buf_set_extmark(bufnr, next_ns, row, col, { right_gravity = false })
  vim.lsp.util.apply_text_edits(shown.edits, bufnr, shown.client.offset_encoding)
  local at = vim.api.nvim_buf_get_extmark_by_id(bufnr, next_ns, mark, {})
  vim.api.nvim_buf_del_extmark(bufnr, next_ns, mark)
  if win ~= -1 and at[1] then
    local lines = vim.split(last.newText, "\n", { plain = true })
    local end_row = at[1] + #lines - 1
    local end_col = (#lines == 1 and at[2] or 0) + #lines[#lines]
    pcall(vim.api.nvim_win_set_cursor, win, { end_row + 1, end_col })
  end
  return true
end

local function show_next_edit(bufnr, client, result)
  clear_next_edit(bufnr)
  local encoding = client.offset_encoding
  for _, edit in ipairs(result.edits) do
    local srow, scol = byte_pos(bufnr, edit.range.start, encoding)
    local erow, ecol = byte_pos(bufnr, edit.range["end"], encoding)
    if srow ~= erow or scol ~= ecol then
      vim.api.nvim_buf_set_extmark(bufnr, next_ns, srow, scol, {
        end_row = erow, end_col = ecol, hl_group = "AicockpitNextEditDelete", strict = false,
      })
    end
    if edit.newText ~= "" then
      local lines = vim.split(edit.newText, "\n", { plain = true })
      local virt = function(text) return { { text, "AicockpitNextEditInsert" } } end
      local mark = { strict = false }
      if ecol == 0 and #lines > 1 and lines[#lines] == "" then
        -- Whole lines inserted before a line: shown above it.
        table.remove(lines)
        mark.virt_lines, mark.virt_lines_above = vim.tbl_map(virt, lines), true
      else
        mark.virt_text, mark.virt_text_pos = virt(table.remove(lines, 1)), "inline"
        if #lines > 0 then mark.virt_lines = vim.tbl_map(virt, lines) end
      end
      vim.api.nvim_buf_set_extmark(bufnr, next_ns, erow, ecol, mark)
    end
  end
  local shown = { client = client, id = result.id, version = result.version, edits = result.edits, maps = {} }
  next_edits[bufnr].shown = shown
  -- The keys, for as long as it is shown; a buffer-local mapping they replace comes back after.
  local keys = next_options()
  local function map(mode, lhs, fn, desc)
    if not lhs or lhs == "" then return end
    local saved = vim.api.nvim_buf_call(bufnr, function() return vim.fn.maparg(lhs, mode, false, true) end)
    table.insert(shown.maps, { mode = mode, lhs = lhs, saved = saved.buffer == 1 and saved or nil })
    vim.keymap.set(mode, lhs, fn, { buffer = bufnr, nowait = true, desc = desc })
  end
  local accept = function() M.accept_next_edit(bufnr) end
  local dismiss = function() M.dismiss_next_edit(bufnr) end
  map("n", keys.accept, accept, "aicockpit: take the next edit")
  map("i", keys.accept, accept, "aicockpit: take the next edit")
  map("n", keys.dismiss, dismiss, "aicockpit: dismiss the next edit")
  map("i", keys.dismiss_insert, dismiss, "aicockpit: dismiss the next edit")
  draw_hint(bufnr)
end

local function cancel_next_edit_request(state)
  local pending = state.request
  state.request = nil
  if pending and not pending.client:is_stopped() then pending.client:cancel_request(pending.id) end
end

--- Ask for a next edit at the cursor of the current buffer now (it is shown when it comes).
function M.request_next_edit(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not vim.api.nvim_buf_is_valid(bufnr) or bufnr ~= vim.api.nvim_get_current_buf() then return end
  local client = vim.lsp.get_clients({ name = "aicockpit", bufnr = bufnr })[1]
  local state = next_edits[bufnr]
  if not client or not state then return end
  cancel_next_edit_request(state)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local pending = { client = client }
  local ok, id = client:request("aicockpit/nextEdit", params, function(err, result)
    if state.request ~= pending then return end -- cancelled: the text changed since
    state.request = nil
    if err or not result or not result.id or #(result.edits or {}) == 0 then return end
    if not vim.api.nvim_buf_is_valid(bufnr) or bufnr ~= vim.api.nvim_get_current_buf() then return end
    if vim.lsp.util.buf_versions[bufnr] ~= result.version then return end
    show_next_edit(bufnr, client, result)
  end, bufnr)
  if ok then
    pending.id = id
    state.request = pending
  end
end

--- A change of the buffer: take down what is shown and ask again; no timer here: the server
--- answers once the edits settle (next_edit.debounce_ms), and a newer question replaces this one.
local function on_text_changed(bufnr)
  local state = next_edits[bufnr]
  local version = vim.lsp.util.buf_versions[bufnr]
  -- TextChanged also comes on leaving Insert mode after TextChangedI saw the change.
  if not state or version == state.asked then return end
  state.asked = version
  M.dismiss_next_edit(bufnr)
  cancel_next_edit_request(state)
  vim.schedule(function() M.request_next_edit(bufnr) end)
end

local function attach_next_edit(bufnr)
  if next_edits[bufnr] then return end
  next_edits[bufnr] = { asked = vim.lsp.util.buf_versions[bufnr] }
  local group = vim.api.nvim_create_augroup("aicockpit_next_edit_" .. bufnr, { clear = true })
  local on = function(events, fn) vim.api.nvim_create_autocmd(events, { group = group, buffer = bufnr, callback = fn }) end
  on({ "TextChanged", "TextChangedI", "TextChangedP" }, function() on_text_changed(bufnr) end)
  on({ "CursorMoved", "CursorMovedI", "WinScrolled" }, function() draw_hint(bufnr) end)
  on("BufLeave", function()
    local state = next_edits[bufnr]
    if state then cancel_next_edit_request(state) end
    M.dismiss_next_edit(bufnr)
  end)
  on({ "BufUnload", "LspDetach" }, function(ev)
    if ev.event == "LspDetach" then
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if not client or client.name ~= "aicockpit" then return end
    end
    local state = next_edits[bufnr]
    if not state then return end
    clear_next_edit(bufnr)
    next_edits[bufnr] = nil
    vim.api.nvim_del_augroup_by_id(group)
  end)
end

--- The capabilities aicockpit's client declares, as `setup()`'s options say: ghost text or the
--- completion item; AI code actions as commands (so that they are reviewed here) or edits.
local function declare(capabilities)
  ghost_text.declare(capabilities, options.ghost_text ~= false)
  local code_action = (capabilities.textDocument or {}).codeAction
  if reviewing() and code_action and code_action.resolveSupport then
    local properties = code_action.resolveSupport.properties or {}
    code_action.resolveSupport.properties = vim.tbl_filter(function(p) return p ~= "edit" end, properties)
  end
end

--- Tells the server where the cursor is when the buffer is shown or the cursor moves
--- (aicockpit/didFocus): it prefills the next completion's prompt there before you pause.
--- A notification per event, no timer: the server does nothing while the cursor stays in
--- the same part of the file.
local function attach_focus(client, bufnr)
  local group = vim.api.nvim_create_augroup("aicockpit_focus_" .. bufnr, { clear = true })
  local function report()
    if vim.api.nvim_get_current_buf() ~= bufnr or client:is_stopped() then return end
    local params = vim.lsp.util.make_position_params(0, client.offset_encoding or "utf-16")
    client:notify("aicockpit/didFocus", { textDocument = params.textDocument, position = params.position })
  end
  vim.api.nvim_create_autocmd({ "BufEnter", "CursorMoved", "InsertEnter" }, { group = group, buffer = bufnr, callback = report })
  vim.api.nvim_create_autocmd("BufUnload", {
    group = group, buffer = bufnr, once = true,
    callback = function() vim.api.nvim_del_augroup_by_id(group) end,
  })
  report()
end

local function on_attach(client, bufnr)
  attach_focus(client, bufnr)
  if options.ghost_text ~= false then
    local keys = vim.tbl_extend("force", ghost_text.DEFAULTS, type(options.ghost_text) == "table" and options.ghost_text or {})
    ghost_text.attach(client, bufnr, keys)
  end
  local server_next_edit = (options.init_options or {}).next_edit or {}
  if options.next_edit ~= false and server_next_edit.enabled ~= false then attach_next_edit(bufnr) end
  health.refresh(client)
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
        before_init = function(params) declare(params.capabilities) end,
        handlers = {
          ["window/logMessage"] = function(err, result, ctx, config)
            vim.lsp.handlers["window/logMessage"](err, result, ctx, config)
            local client = vim.lsp.get_client_by_id(ctx.client_id)
            if client and result then health.on_log_message(client, result) end
          end,
        },
        commands = {
          -- Answered here, in full, instead of as a message cut at 2,000 characters.
          ["aicockpit.explain"] = function(command) M.explain(command.arguments[1]) end,
          ["aicockpit.applyAction"] = review_code_action,
        },
      }, { bufnr = ev.buf })
    end,
  })
  local group = vim.api.nvim_create_augroup("aicockpit", { clear = true })
  vim.api.nvim_create_autocmd("LspProgress", { group = group, callback = on_progress })
  vim.api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == "aicockpit" then on_attach(client, ev.buf) end
    end,
  })
  highlights()
  vim.api.nvim_create_autocmd("ColorScheme", { group = group, callback = highlights })
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
  vim.api.nvim_create_user_command("AiAccept", function() review.accept() end, { desc = "Apply the AI edit under review" })
  vim.api.nvim_create_user_command("AiReject", function() review.reject() end, { desc = "Reject the AI edit under review" })
end

return M
