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
--- The latest prompt budget and measured speed per role (what :checkhealth shows).
M.budgets, M.speeds = {}, {}
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
  M.roles, M.budgets, M.speeds = {}, {}, {}
  for role, info in pairs(roles or {}) do
    if type(info) == "table" then
      if type(info.health) == "table" then M.roles[role] = info.health end
      if type(info.budget) == "table" then M.budgets[role] = info.budget end
      if type(info.speed) == "table" then M.speeds[role] = info.speed end
    end
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

local function number(value) return type(value) == "number" end

--- "prefix 830 + context 0 + header 20 tokens, up to 19 new (measured)", or nil.
function M.budget_text(budget)
  if type(budget) ~= "table" then return nil end
  local parts = {}
  for _, name in ipairs({ "prefix", "suffix", "context", "header" }) do
    local n = budget[name .. "_tokens"]
    if number(n) then table.insert(parts, string.format("%s %d", name, n)) end
  end
  local text = #parts > 0 and (table.concat(parts, " + ") .. " tokens") or ""
  if number(budget.max_tokens) then
    text = text .. (text ~= "" and ", " or "") .. string.format("up to %d new", budget.max_tokens)
  end
  if text == "" then return nil end
  return budget.source and string.format("%s (%s)", text, budget.source) or text
end

--- "prefill 620 tokens/s, 34 ms a token, first token 1.2 s (12 requests)", or nil before any.
function M.speed_text(speed)
  if type(speed) ~= "table" or not number(speed.samples) or speed.samples == 0 then return nil end
  local parts = {}
  if number(speed.prefill_tokens_per_s) then
    table.insert(parts, string.format("prefill %d tokens/s", math.floor(speed.prefill_tokens_per_s + 0.5)))
  end
  if number(speed.decode_ms_per_token) then
    table.insert(parts, string.format("%.0f ms a token", speed.decode_ms_per_token))
  end
  if number(speed.first_token_ms_p50) then
    table.insert(parts, string.format("first token %.1f s", speed.first_token_ms_p50 / 1000))
  end
  return string.format("%s (%d requests)", table.concat(parts, ", "), speed.samples)
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
    -- What the prompts are sized to, and the speed they are sized from.
    local budget, speed = M.budget_text(M.budgets[role]), M.speed_text(M.speeds[role])
    if budget then vim.health.info(role .. " prompt budget: " .. budget) end
    if speed then vim.health.info(role .. " measured: " .. speed) end
  end
end

return M
