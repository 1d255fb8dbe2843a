-- Runs a driver's steps in a real Neovim: each step is { name, act, check, timeout_s }; `act`
-- (optional) does something (keys typed through Neovim's own main loop), `check` is polled
-- every 50 ms until it returns true (for timeout_s, a minute unless given). Steps run from a timer, never inside vim.wait, so
-- typed keys are handled as a user's are. Writes `out` as JSON to $AICOCKPIT_OUT at the end.
local M = {}

function M.keys(k) vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(k, true, false, true), "t", false) end

function M.client() return vim.lsp.get_clients({ name = "aicockpit", bufnr = 0 })[1] end

function M.stats()
  local c = M.client()
  local r = c and c:request_sync("aicockpit/stats", vim.empty_dict(), 5000, 0)
  return r and r.result
end

function M.lines() return vim.api.nvim_buf_get_lines(0, 0, -1, false) end

function M.run(steps, out)
  out.steps, out.step_ms = out.steps or {}, {}
  local index, started, busy = 0, 0, false
  local timer = vim.uv.new_timer()
  local function stop(error)
    timer:stop()
    out.error = error
    local c = M.client()
    if c then
      c:stop()
      vim.wait(10000, function() return c:is_stopped() end, 100)
    end
    local f = assert(io.open(vim.env.AICOCKPIT_OUT, "w"))
    f:write(vim.json.encode(out))
    f:close()
    vim.cmd("qa!")
  end
  local function start_next()
    index = index + 1
    local step = steps[index]
    if not step then return stop(nil) end
    started = vim.uv.now()
    if step[2] then
      busy = true -- an act may wait (request_sync), which runs the timer: no check meanwhile
      local ok, err = pcall(step[2])
      busy = false
      if not ok then return stop(step[1] .. ": " .. tostring(err)) end
    end
  end
  start_next()
  timer:start(50, 50, vim.schedule_wrap(function()
    -- request_sync waits with vim.wait, which runs this timer again: one step at a time.
    if busy or index > #steps then return end
    busy = true
    local step = steps[index]
    local ok, done = pcall(step[3])
    busy = false
    if not ok then return stop(step[1] .. ": " .. tostring(done)) end
    if done then
      table.insert(out.steps, step[1])
      out.step_ms[step[1]] = vim.uv.now() - started
      return start_next()
    end
    if vim.uv.now() - started > (step[4] or 60) * 1000 then stop("timed out at step " .. step[1]) end
  end))
end

return M
