-- :checkhealth efrit
local M = {}

local function reporter()
  local h = vim.health
  if h and h.start then return h end -- 0.10+
  if h and h.report_start then -- 0.8, 0.9
    return { start = h.report_start, ok = h.report_ok, info = h.report_info, warn = h.report_warn, error = h.report_error }
  end
  local old = require('health') -- 0.7
  return { start = old.report_start, ok = old.report_ok, info = old.report_info, warn = old.report_warn, error = old.report_error }
end

function M.check()
  local health = reporter()
  local efrit = require('efrit')
  local config = efrit.config()

  health.start('efrit: Neovim')
  local v = vim.version()
  local version = string.format('%d.%d.%d', v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.7') == 1 then
    local how = vim.fn.has('nvim-0.11') == 1 and config.native_enable and 'vim.lsp.config + vim.lsp.enable'
      or vim.lsp.start and 'vim.lsp.start' or 'vim.lsp.start_client'
    health.ok(string.format('Neovim %s; the server is started with %s', version, how))
  else
    health.error('Neovim ' .. version .. ' is too old: efrit needs 0.7 or later')
  end

  health.start('efrit: server')
  if not efrit.is_set_up() then
    health.warn('require("efrit").setup() has not run', { 'Call it from your init.lua.' })
  end
  local exe = config.cmd[1]
  if vim.fn.executable(exe) == 1 then
    health.ok('command: ' .. table.concat(config.cmd, ' '))
  else
    health.error(exe .. ' is not executable', { 'Install Node 20+ and efrit-lsp, or set `cmd` in setup().' })
  end
  local opts = config.init_options or {}
  local key_in_settings = type(opts.apiKey) == 'string' or (type(opts.efrit) == 'table' and type(opts.efrit.apiKey) == 'string')
  if key_in_settings then
    health.ok('API key: from the efrit.apiKey setting')
  elseif vim.env.ANTHROPIC_API_KEY and vim.env.ANTHROPIC_API_KEY ~= '' then
    health.ok('API key: ANTHROPIC_API_KEY is set')
  else
    health.warn('ANTHROPIC_API_KEY is not set: code actions are listed, but every model call will fail',
      { 'Export ANTHROPIC_API_KEY before starting Neovim, or set init_options.apiKey.' })
  end
  local clients = efrit.clients()
  if #clients == 0 then
    health.info('no efrit-lsp server is running (open a file that efrit attaches to)')
  end
  for _, client in ipairs(clients) do
    local root = client.config and client.config.root_dir or '?'
    health.ok(string.format('client %d running, root %s', client.id, root))
  end
end

return M
