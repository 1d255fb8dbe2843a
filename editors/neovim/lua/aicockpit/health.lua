-- How aicockpit's roles (completion, edit, chat, next_edit) are doing, as the server says in
-- aicockpit/stats: "ok", or a one-line failure the user should see ("slow: 6.1 s to first
-- token on this machine", "backend unreachable: team-fim") with what to change. The server
-- logs a Warning when a role turns slow, unreachable or failing and an Info when it is ok
-- again: those log messages (and the client's start) are when it is asked; no timer.
-- Also `:checkhealth aicockpit`.
local M = {}

local ROLES = { "completion", "next_edit", "edit", "chat" }
local QUIET = { ok = true, loading = true } -- loading shows as progress
--- The latest health per role: { state, message, fix, since_s }.
M.roles = {}
local asking, again = false, false

--- The failures, each message once (roles on one backend fail alike), in role order, with
--- the first role's fix: { message, fix }.
local function failures()
  local found, seen = {}, {}
  for _, role in ipairs(ROLES) do
    local health = M.roles[role]
    if health and not QUIET[health.state] then
      local message = health.message ~= "" and health.message or (role .. ": " .. health.state)
      if not seen[message] then
        seen[message] = true
        table.insert(found, { message = message, fix = health.fix or "" })
      end
    end
  end
  return found
end

--- The failures in one line ("" when every role is fine).
function M.line()
  return table.concat(vim.tbl_map(function(f) return f.message end, failures()), "; ")
end

function M.is_unhealthy() return #failures() > 0 end

--- Takes in the roles of an aicockpit/stats answer; tells the user what changed.
function M.update(roles)
  local before = M.line()
  M.roles = {}
  for role, info in pairs(roles or {}) do
    if type(info) == "table" and type(info.health) == "table" then M.roles[role] = info.health end
  end
  local now = M.line()
  if now == before then return end
  if now ~= "" then
    local text = "aicockpit: " .. now
    for _, failure in ipairs(failures()) do
      if failure.fix ~= "" then text = text .. "\n  " .. failure.fix end
    end
    vim.notify(text, vim.log.levels.WARN)
  else
    vim.notify("aicockpit: answering in time again", vim.log.levels.INFO)
  end
  vim.cmd.redrawstatus()
end

--- Asks the server how its roles are (one request at a time; asked again if wanted meanwhile).
function M.refresh(client)
  if asking then
    again = true
    return
  end
  if client:is_stopped() then return end
  asking = true
  client:request("aicockpit/stats", vim.empty_dict(), function(err, result)
    asking = false
    if not err and result then M.update(result.roles) end
    if again then
      again = false
      M.refresh(client)
    end
  end)
end

--- window/logMessage from aicockpit: a Warning may be a role turning bad, an Info (while one
--- is bad) its recovery.
function M.on_log_message(client, message)
  if message.type == vim.lsp.protocol.MessageType.Warning
    or (message.type == vim.lsp.protocol.MessageType.Info and M.is_unhealthy()) then
    M.refresh(client)
  end
end

--- :checkhealth aicockpit
function M.check()
  vim.health.start("aicockpit")
  local client = vim.lsp.get_clients({ name = "aicockpit" })[1]
  if not client then
    vim.health.warn("aicockpit is not running (it starts with a buffer of one of its filetypes)")
    return
  end
  local answer = client:request_sync("aicockpit/stats", vim.empty_dict(), 5000)
  if not (answer and answer.result) then
    vim.health.error("aicockpit/stats did not answer: " .. vim.inspect(answer and answer.err))
    return
  end
  M.update(answer.result.roles)
  for _, role in ipairs(ROLES) do
    local health = M.roles[role]
    if not health then
      vim.health.info(role .. ": no health reported")
    elseif health.state == "ok" then
      vim.health.ok(role)
    else
      local advice = (health.fix or "") ~= "" and { health.fix } or nil
      vim.health.warn(string.format("%s: %s", role, health.message ~= "" and health.message or health.state), advice)
    end
  end
end

return M
