-- aicockpit for Neovim 0.11+: completions, AI code actions, Ctrl+K-style edits, :AiChat.
--
--   require("aicockpit").setup({ cmd = { "/path/to/aicockpit/.venv/bin/aicockpit", "serve" } })
--
-- (put this file on 'runtimepath' as lua/aicockpit.lua, or dofile() it).
local M = {}

local function client_for(bufnr)
  return vim.lsp.get_clients({ name = "aicockpit", bufnr = bufnr or 0 })[1]
end

--- Rewrite lines first..last (0-based, inclusive) of the current buffer as instructed.
function M.edit(instruction, first, last, on_done)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then return vim.notify("aicockpit is not running here", vim.log.levels.WARN) end
  client:exec_cmd({
    title = "AI edit",
    command = "aicockpit.edit",
    arguments = { {
      uri = vim.uri_from_bufnr(bufnr),
      instruction = instruction,
      version = vim.lsp.util.buf_versions[bufnr],
      range = { start = { line = first, character = 0 }, ["end"] = { line = last + 1, character = 0 } },
    } },
  }, { bufnr = bufnr }, function(err, result)
    if err then vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR) end
    if on_done then on_done(err, result) end
  end)
end

--- Ask aicockpit; the answer opens in a scratch split. @path and @symbol add context.
function M.chat(message, on_done)
  local client = client_for(0)
  if not client then return vim.notify("aicockpit is not running here", vim.log.levels.WARN) end
  client:request("aicockpit/chat", { message = message, session = vim.g.aicockpit_session }, function(err, result)
    if err then
      vim.notify("aicockpit: " .. err.message, vim.log.levels.ERROR)
    else
      vim.g.aicockpit_session = result.session
      vim.cmd("botright new")
      vim.bo.buftype, vim.bo.bufhidden, vim.bo.filetype = "nofile", "wipe", "markdown"
      vim.api.nvim_buf_set_lines(0, 0, -1, false, vim.split(result.reply, "\n"))
      for _, notice in ipairs(result.notices or {}) do vim.notify(notice, vim.log.levels.WARN) end
    end
    if on_done then on_done(err, result) end
  end)
end

function M.setup(opts)
  opts = opts or {}
  vim.api.nvim_create_autocmd("FileType", {
    pattern = opts.filetypes or { "python", "javascript", "typescript", "go", "rust", "java", "c", "cpp", "lua" },
    callback = function(ev)
      vim.lsp.start({
        name = "aicockpit",
        cmd = opts.cmd or { "aicockpit", "serve" },
        root_dir = vim.fs.root(ev.buf, { ".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml" }),
        init_options = opts.init_options or {},
      }, { bufnr = ev.buf })
    end,
  })
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
end

return M
