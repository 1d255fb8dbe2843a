-- Review of AI edits before they touch the buffer: the proposed text opens beside it in a
-- diff split; accepting applies the edit as one undo step (only to the buffer version it was
-- made for), rejecting or closing the split leaves the buffer as it is. One review at a time.
local M = {}

M.DEFAULTS = { accept = "ga", reject = "gr" }
--- The review on screen: { bufnr, source_win, win, scratch, edit, version, encoding, on_done }.
M.pending = nil

--- The text edits of a WorkspaceEdit for one document.
local function edits_for(edit, uri)
  local found = {}
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and change.textDocument.uri == uri then vim.list_extend(found, change.edits) end
  end
  vim.list_extend(found, (edit.changes or {})[uri] or {})
  return found
end

local function settle(pending, accepted, message)
  if M.pending ~= pending then return end
  M.pending = nil
  if vim.api.nvim_win_is_valid(pending.source_win) then
    vim.api.nvim_win_call(pending.source_win, function() vim.cmd("diffoff") end)
  end
  if vim.api.nvim_win_is_valid(pending.win) then
    if vim.api.nvim_win_is_valid(pending.source_win) then vim.api.nvim_set_current_win(pending.source_win) end
    pcall(vim.api.nvim_win_close, pending.win, true) -- the last window stays
  end
  if vim.api.nvim_buf_is_valid(pending.scratch) then vim.api.nvim_buf_delete(pending.scratch, { force = true }) end
  if message then vim.notify("aicockpit: " .. message, vim.log.levels.WARN) end
  if pending.on_done then pending.on_done(accepted) end
end

--- Applies the edit under review, unless its buffer changed since it was proposed.
function M.accept()
  local pending = M.pending
  if not pending then return false end
  if pending.version and vim.lsp.util.buf_versions[pending.bufnr] ~= pending.version then
    settle(pending, false, "the file changed since the edit was proposed; nothing applied. Run it again.")
    return true
  end
  vim.lsp.util.apply_workspace_edit(pending.edit, pending.encoding)
  settle(pending, true)
  return true
end

function M.reject()
  if not M.pending then return false end
  settle(M.pending, false)
  return true
end

--- Shows `edit` (a WorkspaceEdit for `bufnr`) as a diff beside the buffer, to accept or reject.
--- opts: title, version (the buffer version it was made for), encoding, keys, on_done(accepted).
function M.propose(bufnr, edit, opts)
  local edits = edits_for(edit, vim.uri_from_bufnr(bufnr))
  if #edits == 0 then
    vim.notify("aicockpit: no change proposed", vim.log.levels.INFO)
    if opts.on_done then opts.on_done(false) end
    return
  end
  if M.pending then settle(M.pending, false) end
  local scratch = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(scratch, 0, -1, false, vim.api.nvim_buf_get_lines(bufnr, 0, -1, false))
  vim.lsp.util.apply_text_edits(edits, scratch, opts.encoding)
  vim.bo[scratch].buflisted = false -- apply_text_edits lists the buffers it edits
  vim.bo[scratch].modifiable = false
  vim.bo[scratch].filetype = vim.bo[bufnr].filetype
  pcall(vim.api.nvim_buf_set_name, scratch, "aicockpit://proposed/" .. vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ":t"))

  local source_win = vim.fn.bufwinid(bufnr)
  if source_win == -1 then
    source_win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(source_win, bufnr)
  end
  local win = vim.api.nvim_open_win(scratch, true, { split = "right", win = source_win })
  vim.api.nvim_win_call(source_win, function() vim.cmd("diffthis") end)
  vim.cmd("diffthis")
  local keys = vim.tbl_extend("force", M.DEFAULTS, type(opts.keys) == "table" and opts.keys or {})
  local title = (opts.title or "AI edit"):gsub("%%", "%%%%")
  vim.wo[win].winbar = string.format("%%#DiffAdd# proposed %%* %s   %s accept · %s reject", title, keys.accept, keys.reject)

  local pending = {
    bufnr = bufnr, source_win = source_win, win = win, scratch = scratch, edit = edit,
    version = opts.version, encoding = opts.encoding, on_done = opts.on_done,
  }
  M.pending = pending
  local map = function(lhs, fn, desc) vim.keymap.set("n", lhs, fn, { buffer = scratch, nowait = true, desc = desc }) end
  map(keys.accept, M.accept, "aicockpit: apply the proposed edit")
  map(keys.reject, M.reject, "aicockpit: reject the proposed edit")
  map("q", M.reject, "aicockpit: reject the proposed edit")
  -- Closing the split any other way is a rejection.
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = scratch,
    once = true,
    callback = function() vim.schedule(function() settle(pending, false) end) end,
  })
  vim.bo[scratch].bufhidden = "wipe"
end

return M
