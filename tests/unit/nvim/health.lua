-- The health part of the Neovim integration against the shape of aicockpit/stats' roles (no
-- server): what status(), statusline() and the notifications say as roles turn bad and recover.
local aicockpit = dofile(vim.env.AICOCKPIT_PLUGIN)
local health = require("aicockpit.health")
local out = { notices = {} }
vim.notify = function(message, level) table.insert(out.notices, { message = message, level = level }) end
local function role(state, message, fix)
  return { profile = "default", health = { state = state, message = message or "", fix = fix or "", since_s = 1.5 } }
end
local function record(name)
  out[name] = { status = aicockpit.status(), statusline = aicockpit.statusline(), line = health.line() }
end

record("before") -- nothing heard yet
health.update({ completion = role("ok"), edit = role("ok"), chat = role("ok"), next_edit = role("ok") })
record("ok")
health.update({ completion = role("loading", "loading SmolLM2-135M-Instruct") })
record("loading") -- progress says it, not the health line
local slow = "slow: 6.1 s to first token on this machine"
local fix = "a smaller prompt: lower completion.latency_target_ms; a GPU; or a remote profile"
health.update({
  completion = role("slow", slow, fix), next_edit = role("slow", slow, fix),
  edit = role("ok"), chat = role("unreachable", "backend unreachable: team-fim", "start team-fim"),
})
record("bad")
aicockpit.running["t"] = { title = "aicockpit: answering" }
record("bad_and_busy")
aicockpit.running["t"] = nil
health.update({ completion = role("ok"), next_edit = role("ok"), edit = role("ok"), chat = role("ok") })
record("recovered")
health.update({ completion = role("failing", "failing: HTTP 500 from team-fim, 3 in a row", "") })
record("failing")
health.update({ completion = { profile = "default" } }) -- a server without health: nothing to say
record("no_health")
local f = assert(io.open(vim.env.AICOCKPIT_OUT, "w"))
f:write(vim.json.encode(out))
f:close()
vim.cmd("qa!")
