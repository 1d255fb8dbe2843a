-- Drives the completion-item path (setup's `ghost_text = false`, for nvim-cmp, blink.cmp and
-- omnifunc users): the server offers its completion provider, <C-x><C-o> typed in Insert
-- mode inserts the model's suggestion, and no ghost text is drawn.
local steps = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/steps.lua")
local out = {}
local aicockpit = dofile(vim.env.AICOCKPIT_PLUGIN)
aicockpit.setup({
  cmd = vim.json.decode(vim.env.AICOCKPIT_CMD),
  init_options = vim.json.decode(vim.env.AICOCKPIT_INIT),
  ghost_text = false,
})
local function marks()
  local found = 0
  for name, ns in pairs(vim.api.nvim_get_namespaces()) do
    if name == "aicockpit_ghost_text" or name == "nvim.lsp.inline_completion" then
      found = found + #vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {})
    end
  end
  return found
end

steps.run({
  { "ready", function() vim.cmd.edit(vim.env.AICOCKPIT_FILE) end, function()
    local stats = steps.client() and steps.stats()
    if not (stats and stats.backends.scripted.state == "ready") then return false end
    local client = steps.client()
    out.completion_provider = client.server_capabilities.completionProvider ~= nil
    out.omnifunc = vim.bo.omnifunc -- what <C-x><C-o> asks
    return true
  end },
  { "omni", function() steps.keys("2GA<C-x><C-o>") end, function()
    out.line = steps.lines()[2]
    out.ghost_marks = marks()
    return out.line ~= "    total = "
  end },
  { "no_tab_mapping", function() steps.keys("<Esc>") end, function()
    out.tab_mapping = vim.fn.maparg("<Tab>", "i", false, true).desc
    return vim.api.nvim_get_mode().mode == "n"
  end },
}, out)
