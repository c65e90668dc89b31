-- efrit.client: starting the server, attaching it to buffers, and handing a
-- ready client to the commands.
--
-- A server answers nothing before `initialize` is done, and Neovim lists a
-- client only from then on; a command run in that gap (:EfritChat right
-- after opening a file) waits for the client to attach, bounded by
-- `attach_timeout`, instead of saying that no server runs.
local api = vim.api
local uv = vim.uv or vim.loop
local config = require('efrit.config')
local util = require('efrit.util')

local M = {}

--- 0.7: root_dir -> client id of the server started for that root.
local clients_by_root = {}
--- Commands waiting for a client that is still starting: { client_id, bufnr, run, fail, timer }.
local waiting = {}

local function stopped(client)
  return client.is_stopped ~= nil and util.call(client, 'is_stopped')
end

--- Every efrit client that has started (initialized) and not stopped.
function M.all()
  local name = config.values.name
  local list = vim.lsp.get_clients and vim.lsp.get_clients({ name = name }) or vim.lsp.get_active_clients()
  local found = {}
  for _, client in ipairs(list) do
    if client.name == name and client.initialized and not stopped(client) then table.insert(found, client) end
  end
  return found
end

--- The efrit client attached to `bufnr` (default: current buffer) and ready for requests, if any.
function M.get(bufnr)
  bufnr = util.buf(bufnr)
  for _, client in ipairs(M.all()) do
    if vim.lsp.buf_is_attached(bufnr, client.id) then return client end
  end
end

--- Finds the project root of a file: the nearest folder upwards holding a root marker, else the file's folder.
local function find_root(path, markers)
  local dir = vim.fn.fnamemodify(path, ':p:h')
  local current = dir
  while true do
    for _, marker in ipairs(markers or {}) do
      if uv.fs_stat(current .. '/' .. marker) then return current end
    end
    local parent = vim.fn.fnamemodify(current, ':h')
    if parent == current then break end
    current = parent
  end
  return dir
end

--- True when efrit attaches to `bufnr`: a file (of the configured filetypes, when set).
function M.attachable(bufnr)
  if not api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then return false end
  local name = api.nvim_buf_get_name(bufnr)
  if name == '' or name:match('^%a[%w+.-]*://') then return false end
  local filetypes = config.values.filetypes
  if filetypes and not vim.tbl_contains(filetypes, vim.bo[bufnr].filetype) then return false end
  return true
end

--- The `efrit` settings: init_options itself, or its `efrit` key when given as { efrit = {...} }.
local function efrit_settings(init_options)
  if type(init_options) == 'table' and type(init_options.efrit) == 'table' then return init_options.efrit end
  return init_options
end

-- Waiting for a client that is starting ------------------------------------------

local function forget(waiter)
  for i, w in ipairs(waiting) do
    if w == waiter then
      table.remove(waiting, i)
      break
    end
  end
  if waiter.timer then
    waiter.timer:stop()
    waiter.timer:close()
    waiter.timer = nil
  end
end

--- The client `client` is attached to `bufnr` and initialized: run what waited for it.
local function attached(client, bufnr)
  for _, w in ipairs(vim.list_extend({}, waiting)) do
    if w.client_id == client.id and (w.bufnr == nil or w.bufnr == bufnr) then
      forget(w)
      -- Inside Neovim's on_attach: an error here must not stop the other waiters or the attach.
      local ok, err = xpcall(w.run, debug.traceback, client)
      if not ok then util.notify('internal error: ' .. tostring(err), vim.log.levels.ERROR) end
    end
  end
end

--- The server of `client_id` exited: what waited for it fails.
local function exited(client_id)
  for _, w in ipairs(vim.list_extend({}, waiting)) do
    if w.client_id == client_id then
      forget(w)
      w.fail('the efrit-lsp server stopped before it was ready (' .. table.concat(config.values.cmd, ' ') .. ')')
    end
  end
  require('efrit.rpc').server_stopped(client_id)
end

local function wait_for(client_id, bufnr, run, fail)
  local waiter = { client_id = client_id, bufnr = bufnr, run = run, fail = fail }
  table.insert(waiting, waiter)
  local timeout = config.values.attach_timeout
  waiter.timer = uv.new_timer()
  waiter.timer:start(timeout, 0, vim.schedule_wrap(function()
    if not waiter.timer then return end
    forget(waiter)
    fail(string.format('the efrit-lsp server did not start within %g s (%s); see :checkhealth efrit',
      timeout / 1000, table.concat(config.values.cmd, ' ')))
  end))
end

-- Starting and attaching ------------------------------------------------------------

--- Neovim's capabilities, with WorkspaceEdits as documentChanges (which Neovim applies, 0.7 included, but does
--- not declare): versioned edits, and the file creates, renames and deletes of a change across files; then the user's.
local function capabilities(user)
  local declared = vim.tbl_deep_extend('force', vim.lsp.protocol.make_client_capabilities(), {
    workspace = {
      applyEdit = true,
      workspaceEdit = { documentChanges = true, resourceOperations = { 'create', 'rename', 'delete' }, failureHandling = 'abort' },
    },
  })
  if user then declared = vim.tbl_deep_extend('force', declared, user) end
  return declared
end

local function client_config(root_dir)
  local c = config.values
  local handlers = vim.tbl_extend('force', {
    ['efrit/stream'] = function(err, params, ctx) require('efrit.rpc').on_stream(err, params, ctx) end,
    ['workspace/applyEdit'] = function(err, params, ctx) return require('efrit.apply').handler(err, params, ctx) end,
  }, c.handlers or {})
  return {
    name = c.name,
    cmd = c.cmd,
    cmd_env = c.cmd_env,
    root_dir = root_dir,
    init_options = util.object(c.init_options),
    -- What the default workspace/configuration handler answers for section `efrit`.
    settings = { efrit = util.object(efrit_settings(c.init_options)) },
    capabilities = capabilities(c.capabilities),
    handlers = handlers,
    flags = c.flags,
    on_init = function(client, result)
      require('efrit.apply').route_code_actions(client)
      if c.on_init then return c.on_init(client, result) end
    end,
    on_exit = function(code, signal, client_id)
      -- Neovim drops the callbacks of requests still waiting when the server goes: answer them here.
      vim.schedule(function() exited(client_id) end)
      if c.on_exit then c.on_exit(code, signal, client_id) end
    end,
    on_attach = function(client, bufnr)
      require('efrit.status').learn(client)
      require('efrit.ghost').on_attach(client, bufnr)
      if c.on_attach then c.on_attach(client, bufnr) end
      attached(client, bufnr)
    end,
  }
end

--- Starts (or reuses) the server for `bufnr`'s project and attaches it; the client's id, or nil.
--- The client may still be starting: see when_ready().
function M.attach(bufnr)
  bufnr = util.buf(bufnr)
  if not M.attachable(bufnr) then return nil end
  local existing = M.get(bufnr)
  if existing then return existing.id end
  local root = find_root(api.nvim_buf_get_name(bufnr), config.values.root_markers)
  if vim.lsp.start then
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  -- 0.7: one client per root, started once.
  local id = clients_by_root[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or client.is_stopped() then
    id = vim.lsp.start_client(client_config(root))
    if not id then
      util.notify('could not start ' .. table.concat(config.values.cmd, ' '), vim.log.levels.ERROR)
      return nil
    end
    clients_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

local function use_native_enable()
  return config.values.native_enable and util.has('nvim-0.11') and vim.lsp.config ~= nil and vim.lsp.enable ~= nil
end

--- Attaches efrit to every matching buffer, now and as they open.
function M.autostart()
  local group = api.nvim_create_augroup('efrit_attach', { clear = true })
  if use_native_enable() then
    local c = config.values
    local cfg = client_config(nil)
    cfg.root_dir = nil
    cfg.filetypes = c.filetypes
    cfg.root_markers = c.root_markers
    vim.lsp.config(c.name, cfg)
    vim.lsp.enable(c.name)
    return
  end
  api.nvim_create_autocmd('FileType', {
    group = group,
    callback = function(args) M.attach(args.buf) end,
  })
  -- Buffers that never get a filetype (only when `filetypes` is nil). Deferred so
  -- that filetype detection runs first and the server learns the right languageId.
  api.nvim_create_autocmd('BufEnter', {
    group = group,
    callback = function(args)
      vim.schedule(function() M.attach(args.buf) end)
    end,
  })
  for _, buf in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(buf) then M.attach(buf) end
  end
end

--- The efrit client of any buffer, starting or started: its id, or nil.
local function any_starting()
  local name = config.values.name
  local list = vim.lsp.get_clients and vim.lsp.get_clients({ name = name }) or vim.lsp.get_active_clients()
  for _, client in ipairs(list) do
    if client.name == name and not stopped(client) then return client.id end
  end
  for _, id in pairs(clients_by_root) do
    local client = vim.lsp.get_client_by_id(id)
    if client and not stopped(client) then return id end
  end
end

--- True while a command waits for a server that is starting.
function M.waiting()
  return #waiting > 0
end

--- Calls `run(client)` with the client to talk to about `bufnr` once it is ready:
--- at once when it is, else when the server it is starting has attached to the buffer.
--- opts.any: a buffer efrit does not attach to (the chat buffer) uses any efrit client, and
---   `run(client, false)` says the buffer is not the client's.
--- opts.fail(message): called instead of showing the message when there is no client, or it never gets ready.
function M.when_ready(bufnr, run, opts)
  opts = opts or {}
  local function fail(message)
    if opts.fail then return opts.fail(message) end
    util.notify(message, vim.log.levels.WARN)
  end
  if bufnr and api.nvim_buf_is_valid(bufnr) then
    local client = M.get(bufnr)
    if client then return run(client, true) end
    if M.attachable(bufnr) and config.values.autostart then
      local id = M.attach(bufnr)
      client = id and vim.lsp.get_client_by_id(id)
      if client and client.initialized and vim.lsp.buf_is_attached(bufnr, id) then return run(client, true) end
      if client then return wait_for(id, bufnr, function(c) run(c, true) end, fail) end
    end
  end
  if opts.any then
    local client = M.all()[1]
    if client then return run(client, false) end
    local starting = any_starting()
    if starting then return wait_for(starting, nil, function(c) run(c, false) end, fail) end
    return fail('no efrit-lsp server is running; open a file first')
  end
  fail('no efrit-lsp server for this buffer (is it a file, and did require("efrit").setup() run?)')
end

return M
