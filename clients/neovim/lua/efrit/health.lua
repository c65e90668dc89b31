-- :checkhealth efrit: Neovim, the server command, Node, the API key (or offline), running servers.
local M = {}

--- The health reporter of the running Neovim: vim.health (0.10+; report_* on 0.8 and 0.9), require('health') on 0.7.
local function reporter()
  local h = vim.health
  if h and h.start then return h end
  if h and h.report_start then
    return { start = h.report_start, ok = h.report_ok, info = h.report_info, warn = h.report_warn, error = h.report_error }
  end
  local old = require('health')
  return { start = old.report_start, ok = old.report_ok, info = old.report_info, warn = old.report_warn, error = old.report_error }
end

--- Node's major version and its `--version` text, from `node` on PATH (or the given one); nil when it does not run.
local function node_version(node)
  if vim.fn.executable(node) ~= 1 then return nil end
  local out = vim.fn.system({ node, '--version' })
  if vim.v.shell_error ~= 0 then return nil end
  local major = tonumber(out:match('^v(%d+)'))
  return major, vim.trim(out)
end

--- True when the server is told to answer with the built-in demo model (no API key needed).
local function offline(config)
  if vim.tbl_contains(config.cmd, '--offline') then return true end
  local env = config.cmd_env or {}
  local flag = env.EFRIT_OFFLINE or vim.env.EFRIT_OFFLINE
  return flag ~= nil and flag ~= '' and flag ~= '0'
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
    health.warn('require("efrit").setup() has not run', { 'Call it from your init.lua (:help efrit-setup).' })
  end
  local exe = config.cmd[1]
  local path = vim.fn.exepath(exe)
  if vim.fn.executable(exe) == 1 then
    health.ok(string.format('command: %s (%s)', table.concat(config.cmd, ' '), path ~= '' and path or exe))
  else
    health.error(exe .. ' is not on PATH or not executable', {
      'Install efrit-lsp: `npm install -g` in its checkout (or of its packed tarball) puts efrit-lsp on PATH.',
      "Or set cmd = { 'node', '/path/to/efrit-lsp/dist/efrit-lsp.cjs', '--stdio' } in setup().",
    })
  end
  local major, node_text = node_version(exe:match('node$') and exe or 'node')
  if not major then
    health.error('node is not on PATH: efrit-lsp runs on Node 20 or later', { 'Install Node 20+.' })
  elseif major < 20 then
    health.error('Node ' .. node_text .. ' is too old: efrit-lsp needs Node 20 or later', { 'Install Node 20+.' })
  else
    health.ok('Node ' .. node_text)
  end
  local opts = config.init_options or {}
  local key_in_settings = type(opts.apiKey) == 'string' or (type(opts.efrit) == 'table' and type(opts.efrit.apiKey) == 'string')
  if offline(config) then
    health.ok('offline: the built-in demo model answers; no API key is needed')
  elseif key_in_settings then
    health.ok('API key: from the efrit.apiKey setting')
  elseif vim.env.ANTHROPIC_API_KEY and vim.env.ANTHROPIC_API_KEY ~= '' then
    health.ok('API key: ANTHROPIC_API_KEY is set')
  else
    health.warn('ANTHROPIC_API_KEY is not set: code actions are listed, but every model call will fail', {
      'Export ANTHROPIC_API_KEY before starting Neovim, or set init_options.apiKey.',
      "To try efrit without a key: cmd = { 'efrit-lsp', '--stdio', '--offline' }.",
    })
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
