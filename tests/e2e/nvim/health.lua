-- Drives a real headless Neovim while its completion backend stalls, then recovers: typing in
-- Insert mode asks for suggestions; the integration's status(), statusline() and notifications
-- say what the server reports (aicockpit/stats roles.<role>.health: failing, then unreachable
-- once the breaker opens), then go quiet again by themselves. The test un-stalls the backend when $AICOCKPIT_STALLED exists.
local steps = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/steps.lua")
local out = { notices = {} }
local aicockpit = dofile(vim.env.AICOCKPIT_PLUGIN)
local health = require("aicockpit.health")
aicockpit.setup({ cmd = vim.json.decode(vim.env.AICOCKPIT_CMD), init_options = vim.json.decode(vim.env.AICOCKPIT_INIT) })
local notify = vim.notify
vim.notify = function(message, level, ...)
  table.insert(out.notices, { message = message, level = level })
  return notify(message, level, ...)
end

-- A user typing on, a key now and then, so that suggestions keep being asked for. (A pause
-- each time: the server waits for one before it asks the backend, and a key that comes sooner
-- supersedes the request instead of letting it time out.)
local last_key = 0
local function type_on()
  if vim.uv.now() - last_key > 2500 then
    last_key = vim.uv.now()
    steps.keys("a")
  end
end

steps.run({
  { "ready", function() vim.cmd.edit(vim.env.AICOCKPIT_FILE) end, function()
    local stats = steps.client() and steps.stats()
    return stats ~= nil and stats.backends.scripted.state == "ready"
  end },
  { "typing", function() steps.keys("GA") end, function() return vim.api.nvim_get_mode().mode == "i" end },
  -- The backend stalls: the line appears, in the warning colour, with the server's words.
  { "failing", nil, function()
    type_on()
    -- (status() also has progress, the workspace's indexing at first: wait for the failure.)
    if health.line() == "" or aicockpit.status():find("indexing", 1, true) then return false end
    out.failing = { status = aicockpit.status(), statusline = aicockpit.statusline() }
    out.failing_health = health.roles.completion -- as the server said it (aicockpit/stats)
    return true
  end, 120 },
  -- Still stalled, the breaker opens: the line follows the server's state.
  { "unreachable", nil, function()
    type_on()
    if not aicockpit.status():find("unreachable", 1, true) then return false end
    out.unreachable = { status = aicockpit.status(), statusline = aicockpit.statusline() }
    out.unreachable_health = health.roles.completion
    return true
  end, 120 },
  -- The test lets the backend answer again; typing on, the line goes away by itself.
  { "recovered", function()
    -- :checkhealth aicockpit, meanwhile: each role, with what to change.
    vim.cmd("checkhealth aicockpit")
    out.checkhealth = vim.api.nvim_buf_get_lines(0, 0, -1, false)
    vim.cmd.tabclose()
    local marker = assert(io.open(vim.env.AICOCKPIT_STALLED, "w"))
    marker:close()
  end, function()
    type_on()
    out.recovered = { status = aicockpit.status(), statusline = aicockpit.statusline() }
    return aicockpit.status() == ""
  end, 120 },
  { "after", nil, function()
    out.recovered_health = steps.stats().roles.completion.health
    return true
  end },
}, out)
