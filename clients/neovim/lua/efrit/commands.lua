-- efrit.commands: the user commands. plugin/efrit.lua defines them at startup,
-- so they exist (and say what to do) before setup() has run.
local api = vim.api
local config = require('efrit.config')
local util = require('efrit.util')

local M = {}

--- The command names, in the order :help efrit-commands lists them.
M.names = { 'EfritChat', 'EfritDo', 'EfritExplain', 'EfritStatus', 'EfritCancel', 'EfritComplete' }

local function efrit()
  return require('efrit')
end

--- The buffer a command is about and its range (none from the chat buffer: the conversation keeps its own).
local function range_of(opts)
  local chat = require('efrit.chat')
  local positions = require('efrit.positions')
  local src = chat.source_buf() or api.nvim_get_current_buf()
  if api.nvim_get_current_buf() == require('efrit.ui').chat_buf() then return src, nil end
  local c = require('efrit.client').get(src)
  return src, positions.command_range(src, opts, positions.encoding_of(c))
end

local commands = {
  EfritChat = {
    run = function(opts)
      if opts.bang then efrit().new_chat() end
      local src, range = range_of(opts)
      efrit().chat(opts.args, { bufnr = src, range = range })
    end,
    opts = { nargs = '*', range = true, bang = true, desc = 'Efrit: chat about the current file (! starts a new conversation)' },
  },
  EfritDo = {
    run = function(opts)
      local src, range = range_of(opts)
      efrit().run_do(opts.args, { bufnr = src, range = range, new_session = opts.bang })
    end,
    opts = { nargs = '*', range = true, bang = true, desc = 'Efrit: let the agent edit the current file' },
  },
  EfritExplain = {
    run = function(opts)
      local src, range = range_of(opts)
      efrit().explain({ bufnr = src, range = range })
    end,
    opts = { range = true, desc = 'Efrit: explain the selected lines (default: the current line)' },
  },
  EfritStatus = {
    run = function() efrit().status() end,
    opts = { desc = 'Efrit: server status and usage' },
  },
  EfritCancel = {
    run = function() efrit().cancel() end,
    opts = { desc = 'Efrit: cancel all running efrit jobs' },
  },
  EfritComplete = {
    run = function() efrit().complete() end,
    opts = { desc = 'Efrit: ghost text at the cursor now (inline completion)' },
  },
}

--- What a command says when it runs before setup().
M.not_set_up = 'call require("efrit").setup() first, e.g. in your init.lua (see :help efrit-setup)'

--- Defines every command; each says what to do until setup() has run.
function M.define()
  for _, name in ipairs(M.names) do
    local command = commands[name]
    pcall(api.nvim_del_user_command, name)
    api.nvim_create_user_command(name, function(opts)
      if not config.set_up then return util.notify(M.not_set_up, vim.log.levels.WARN) end
      command.run(opts)
    end, command.opts)
  end
end

--- Removes every command (setup({ create_commands = false })).
function M.remove()
  for _, name in ipairs(M.names) do
    pcall(api.nvim_del_user_command, name)
  end
end

return M
