-- efrit: the Neovim client of efrit-lsp, an AI coding assistant that is a
-- language server. Plain LSP already gives the "Efrit: …" code actions
-- (vim.lsp.buf.code_action(), with codeAction/resolve); this module starts
-- and attaches the server, and wraps its custom methods: efrit/chat,
-- efrit/do, efrit/status, efrit/cancel and the efrit/stream notifications,
-- and shows the server's ghost text (textDocument/inlineCompletion) itself
-- where Neovim has no vim.lsp.inline_completion (before 0.12).
--
-- Works on Neovim 0.7.2 (vim.lsp.start_client + buf_attach_client from
-- FileType/BufEnter autocmds), uses vim.lsp.start on 0.8+ and
-- vim.lsp.config + vim.lsp.enable on 0.11+. See :help efrit.
local api = vim.api
local uv = vim.uv or vim.loop
local ui = require('efrit.ui')

local M = {}

local has = function(feature) return vim.fn.has(feature) == 1 end

--- LSP ErrorCodes.RequestCancelled: only ever the answer to our own $/cancelRequest.
local REQUEST_CANCELLED = -32800
--- LSP 3.17 ServerCancelled: the server ended the request's job; data.reason says why.
local SERVER_CANCELLED = -32802

local defaults = {
  name = 'efrit',
  cmd = { 'npx', 'efrit-lsp', '--stdio' },
  cmd_env = nil,
  --- nil: every buffer that is a file; else a list of filetypes.
  filetypes = nil,
  root_markers = { '.git', 'package.json', 'pyproject.toml', 'setup.py', 'go.mod', 'Cargo.toml', 'Makefile', '.hg' },
  --- The `efrit` settings object (see the server's README); also answered to workspace/configuration.
  init_options = {},
  capabilities = nil,
  on_attach = nil,
  handlers = {},
  flags = { debounce_text_changes = 150 },
  --- Start the server when a matching buffer is opened.
  autostart = true,
  --- Create :EfritChat, :EfritDo, :EfritExplain, :EfritStatus, :EfritCancel, :EfritComplete.
  create_commands = true,
  chat = { position = 'right', size = nil },
  --- Where :EfritExplain shows its text: 'float' or 'chat'.
  explain = 'float',
  --- Ghost text from the server (textDocument/inlineCompletion) while typing: Neovim's own
  --- vim.lsp.inline_completion where it exists (0.12+), the plugin's own extmarks elsewhere.
  inline_completion = true,
  --- The plugin's own ghost text (Neovim without vim.lsp.inline_completion).
  ghost_text = {
    --- Ask after typing in Insert mode (triggerKind 2); false: only :EfritComplete / complete().
    auto = true,
    --- Milliseconds of quiet after a keystroke before asking (the server debounces too).
    delay = 150,
    --- Insert-mode key that accepts a shown suggestion and otherwise does its usual job; false: none.
    accept_key = '<Tab>',
    --- Prefer vim.lsp.inline_completion where it exists; false: the plugin's own everywhere.
    native = true,
  },
  --- Use vim.lsp.config/vim.lsp.enable where present (0.11+).
  native_enable = true,
}

local state = {
  config = vim.deepcopy(defaults),
  set_up = false,
  --- 0.7: root_dir -> client id of the server started for that root
  clients_by_root = {},
  --- jobId -> { title, status, sink, session_id }
  jobs = {},
  --- Requests of ours that are waiting for an answer, oldest first.
  pending = {},
  --- streamId -> the pending request that named its job's stream so.
  streams = {},
  --- Stream ids of requests already answered, oldest first (bounded): their late notes are dropped.
  finished_streams = {},
  --- The conversation of the chat buffer.
  chat = { session_id = nil, source_buf = nil, range = nil, busy = nil, turns = 0 },
  --- :EfritDo sessions, per source buffer.
  do_sessions = {},
  last_stream = nil,
  next_pending_id = 0,
}

-- Small helpers ---------------------------------------------------------------

local function notify(message, level)
  vim.notify('Efrit: ' .. message, level or vim.log.levels.INFO, { title = 'Efrit' })
end

local function is_empty(t)
  return type(t) ~= 'table' or next(t) == nil
end

--- Lua {} encodes as [] in JSON; the server wants objects.
local function object(t)
  if is_empty(t) then return vim.empty_dict() end
  return t
end

--- Calls a client method the way the running Neovim wants it (colon calls from 0.11).
local function call(client, method, ...)
  if has('nvim-0.11') then return client[method](client, ...) end
  return client[method](...)
end

local function fire(pattern, data)
  local opts = { pattern = pattern, modeline = false }
  if has('nvim-0.8') then opts.data = data end
  pcall(api.nvim_exec_autocmds, 'User', opts)
end

local function redrawstatus()
  pcall(vim.cmd, 'redrawstatus')
end

local function error_reason(err)
  if type(err) ~= 'table' then return nil end
  if err.code == REQUEST_CANCELLED then return 'cancelled' end
  return type(err.data) == 'table' and err.data.reason or nil
end

--- A job the server ended by itself (a newer request, the session ending, shutdown): why, for the user; else nil.
--- Its reason `cancelled` is the user's own :EfritCancel, nothing to report.
local function server_cancelled(err)
  if type(err) ~= 'table' or err.code ~= SERVER_CANCELLED or error_reason(err) == 'cancelled' then return nil end
  return 'the server cancelled it: ' .. (err.message or error_reason(err) or '')
end

local function error_text(err)
  if type(err) ~= 'table' then return tostring(err) end
  if error_reason(err) == 'cancelled' then return 'cancelled' end
  return server_cancelled(err) or err.message or vim.inspect(err)
end

--- How a failed request ends its entry: a footer, and the level to notify at (nil: no notification).
local function failure_footer(err)
  if error_reason(err) == 'cancelled' then return '_[cancelled]_', nil end
  local by_server = server_cancelled(err)
  if by_server then return '_[' .. by_server .. ']_', vim.log.levels.WARN end
  return '**Error:** ' .. error_text(err), vim.log.levels.ERROR
end

-- Clients -------------------------------------------------------------------

local function all_clients()
  local name = state.config.name
  local list = vim.lsp.get_clients and vim.lsp.get_clients({ name = name }) or vim.lsp.get_active_clients()
  local found = {}
  for _, client in ipairs(list) do
    if client.name == name and not (client.is_stopped and call(client, 'is_stopped')) then table.insert(found, client) end
  end
  return found
end

--- The efrit client attached to `bufnr` (default: current buffer), if any.
function M.get_client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  for _, client in ipairs(all_clients()) do
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

local function attachable(bufnr)
  if not api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then return false end
  local name = api.nvim_buf_get_name(bufnr)
  if name == '' or name:match('^%a[%w+.-]*://') then return false end
  local filetypes = state.config.filetypes
  if filetypes and not vim.tbl_contains(filetypes, vim.bo[bufnr].filetype) then return false end
  return true
end

--- The `efrit` settings: init_options itself, or its `efrit` key when given as { efrit = {...} }.
local function efrit_settings(init_options)
  if type(init_options) == 'table' and type(init_options.efrit) == 'table' then return init_options.efrit end
  return init_options
end

local function client_config(root_dir)
  local c = state.config
  local handlers = vim.tbl_extend('force', {
    ['efrit/stream'] = function(err, params, ctx) M._on_stream(err, params, ctx) end,
  }, c.handlers or {})
  return {
    name = c.name,
    cmd = c.cmd,
    cmd_env = c.cmd_env,
    root_dir = root_dir,
    init_options = object(c.init_options),
    -- What the default workspace/configuration handler answers for section `efrit`.
    settings = { efrit = object(efrit_settings(c.init_options)) },
    capabilities = c.capabilities,
    handlers = handlers,
    flags = c.flags,
    on_exit = function(code, signal, client_id)
      -- Neovim drops the callbacks of requests still waiting when the server goes: answer them here.
      vim.schedule(function() M._server_stopped(client_id) end)
      if c.on_exit then c.on_exit(code, signal, client_id) end
    end,
    on_attach = function(client, bufnr)
      -- Neovim 0.12 shows inline completions itself once enabled; older versions have no such API.
      if c.inline_completion then
        if M._native_ghost() then
          pcall(vim.lsp.inline_completion.enable, true, { bufnr = bufnr, client_id = client.id })
        else
          M._ghost_attach(bufnr)
        end
      end
      if c.on_attach then c.on_attach(client, bufnr) end
    end,
  }
end

--- Starts (or reuses) the server for `bufnr`'s project and attaches it.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if not attachable(bufnr) then return nil end
  local existing = M.get_client(bufnr)
  if existing then return existing.id end
  local root = find_root(api.nvim_buf_get_name(bufnr), state.config.root_markers)
  if vim.lsp.start then
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  -- 0.7: one client per root, started once.
  local id = state.clients_by_root[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or client.is_stopped() then
    id = vim.lsp.start_client(client_config(root))
    if not id then
      notify('could not start ' .. table.concat(state.config.cmd, ' '), vim.log.levels.ERROR)
      return nil
    end
    state.clients_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

local function use_native_enable()
  return state.config.native_enable and has('nvim-0.11') and type(vim.lsp.config) ~= 'nil' and vim.lsp.enable ~= nil
end

local function start_autostart()
  local group = api.nvim_create_augroup('efrit_attach', { clear = true })
  if use_native_enable() then
    local c = state.config
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

--- The client to talk to for `bufnr`: attached, or the one any efrit buffer uses.
local function client_for(bufnr, quiet)
  local client = M.get_client(bufnr)
  if not client and attachable(bufnr) and state.config.autostart then
    M.attach(bufnr)
    client = M.get_client(bufnr)
  end
  if client then return client end
  if not quiet then
    notify('no efrit-lsp server for this buffer (is it a file, and did require("efrit").setup() run?)', vim.log.levels.WARN)
  end
end

-- Ranges and positions ------------------------------------------------------

local function char_index(line, byte_col, encoding)
  byte_col = math.max(0, math.min(byte_col, #line))
  if encoding == 'utf-8' then return byte_col end
  if has('nvim-0.11') then return vim.str_utfindex(line, encoding or 'utf-16', byte_col, false) end
  local ok, utf32, utf16 = pcall(vim.str_utfindex, line, byte_col)
  if not ok then return byte_col end
  return encoding == 'utf-32' and utf32 or utf16
end

local function buf_line(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

local function position(bufnr, row, byte_col, encoding)
  return { line = row, character = char_index(buf_line(bufnr, row), byte_col, encoding) }
end

local function encoding_of(client)
  return client and client.offset_encoding or 'utf-16'
end

--- The range a command was given: the visual selection when the command was
--- run on it (characterwise if it was), whole lines otherwise.
--- @param opts table { line1, line2, range } as user commands get them
local function command_range(bufnr, opts, encoding)
  if not opts or (opts.range or 0) == 0 then return nil end
  local l1, l2 = opts.line1 - 1, opts.line2 - 1
  local vs, ve = api.nvim_buf_get_mark(bufnr, '<'), api.nvim_buf_get_mark(bufnr, '>')
  if opts.range == 2 and vim.fn.visualmode() == 'v' and vs[1] - 1 == l1 and ve[1] - 1 == l2 then
    local last = buf_line(bufnr, l2)
    local end_col = math.min(ve[2], #last)
    -- '> is on the last selected character: include all of its bytes.
    if end_col < #last then end_col = end_col + #vim.fn.strcharpart(last:sub(end_col + 1), 0, 1) end
    return { start = position(bufnr, l1, vs[2], encoding), ['end'] = position(bufnr, l2, end_col, encoding) }
  end
  return { start = { line = l1, character = 0 }, ['end'] = position(bufnr, l2, #buf_line(bufnr, l2), encoding) }
end

--- The cursor in `bufnr`: in the current window if it shows it, else in one that does.
local function cursor_of(bufnr)
  local win = api.nvim_get_current_win()
  if api.nvim_win_get_buf(win) ~= bufnr then
    for _, w in ipairs(api.nvim_tabpage_list_wins(0)) do
      if api.nvim_win_get_buf(w) == bufnr then win = w end
    end
  end
  if api.nvim_win_get_buf(win) ~= bufnr then return nil end
  return api.nvim_win_get_cursor(win)
end

local function cursor_range(bufnr, encoding)
  local cursor = cursor_of(bufnr)
  if not cursor then return nil end
  local p = position(bufnr, cursor[1] - 1, cursor[2], encoding)
  return { start = p, ['end'] = p }
end

local function line_range(bufnr, row, encoding)
  return { start = { line = row, character = 0 }, ['end'] = position(bufnr, row, #buf_line(bufnr, row), encoding) }
end

local function describe_range(bufnr, range)
  local name = vim.fn.fnamemodify(api.nvim_buf_get_name(bufnr), ':~:.')
  if not range then return name end
  local a, b = range.start.line + 1, range['end'].line + 1
  if a == b then return string.format('%s:%d', name, a) end
  return string.format('%s:%d-%d', name, a, b)
end

-- Requests and the efrit/stream routing ----------------------------------------

-- Every request that starts a job names its stream (`streamId`); the server
-- puts that name on every efrit/stream note of the job, the first one
-- included, so a note reaches its request's sink before the answer names the
-- job. Notes without a name of ours (a code action Neovim itself runs) only
-- show in the statusline and the EfritStream event.
--
-- Neovim's RPC layer never calls the handler of a request answered with
-- RequestCancelled ("it is RPC-internal"). The server gives that answer only
-- to a request its client cancelled with $/cancelRequest, which this plugin
-- does only in cancel(), which finishes those requests itself; a job the
-- server ends (efrit/cancel, a newer request, a session ending) is answered
-- ServerCancelled, which reaches the handler like any error.

--- The methods whose requests start (or wait for) a job, and so name its stream.
local named_streams = {
  ['efrit/chat'] = true,
  ['efrit/do'] = true,
  ['workspace/executeCommand'] = true,
}

--- `params` with `stream_id` in the place the server reads it: the params, or a command's argument.
local function with_stream_id(method, params, stream_id)
  local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
  end
  local named = copy(params)
  if method ~= 'workspace/executeCommand' then
    named.streamId = stream_id
  elseif type(named.arguments) == 'table' and type(named.arguments[1]) == 'table' then
    named.arguments = copy(named.arguments)
    named.arguments[1] = copy(named.arguments[1])
    named.arguments[1].streamId = stream_id
  end
  return named
end

local function remember_finished_stream(stream_id)
  local finished = state.finished_streams
  finished[stream_id] = true
  table.insert(finished, stream_id)
  if #finished > 64 then finished[table.remove(finished, 1)] = nil end
end

--- Sends an asynchronous request; the efrit/stream notes of its job reach `sink` before the answer does.
--- kind: 'chat' | 'do' | 'explain' | 'other' | 'ghost' (ghost text: not shown in statusline() nor busy())
local function send(client, bufnr, method, params, kind, sink, session_id, on_result)
  state.next_pending_id = state.next_pending_id + 1
  local pending = { id = state.next_pending_id, kind = kind, sink = sink, session_id = session_id, client_id = client.id }
  if kind ~= 'ghost' and named_streams[method] then
    pending.stream_id = string.format('nvim-%d-%d', vim.fn.getpid(), pending.id)
    params = with_stream_id(method, params, pending.stream_id)
  end
  function pending.finish(err, result)
    if pending.done then return end
    pending.done = true
    for i, p in ipairs(state.pending) do
      if p == pending then
        table.remove(state.pending, i)
        break
      end
    end
    if pending.stream_id then
      state.streams[pending.stream_id] = nil
      remember_finished_stream(pending.stream_id)
    end
    if pending.job_id then state.jobs[pending.job_id] = nil end
    redrawstatus()
    local ok, e = xpcall(on_result, debug.traceback, err, result)
    if not ok then notify('internal error: ' .. tostring(e), vim.log.levels.ERROR) end
    if kind ~= 'ghost' then fire('EfritRequestDone', { kind = kind, error = err and error_text(err) or nil }) end
  end
  table.insert(state.pending, pending)
  if pending.stream_id then state.streams[pending.stream_id] = pending end
  local ok, request_id = call(client, 'request', method, params, function(err, result)
    pending.finish(err, result)
  end, bufnr)
  if not ok then
    pending.done = true
    table.remove(state.pending, #state.pending)
    if pending.stream_id then state.streams[pending.stream_id] = nil end
    notify('the server is not running', vim.log.levels.ERROR)
    return nil
  end
  pending.request_id = request_id
  redrawstatus()
  return pending
end

--- The server of `client_id` stopped: its requests will never be answered.
function M._server_stopped(client_id)
  for _, p in ipairs(vim.list_extend({}, state.pending)) do
    if p.client_id == client_id then p.finish({ code = -32099, message = 'the efrit-lsp server stopped' }, nil) end
  end
end

--- Files a note under its job, and hands it to the sink of the request that named its stream.
local function route(params, ctx)
  local job = state.jobs[params.jobId]
  if not job then
    job = { status = nil, sink = nil, client_id = ctx and ctx.client_id }
    state.jobs[params.jobId] = job
  end
  local p = params.streamId and state.streams[params.streamId]
  if p and not job.pending then
    p.job_id = params.jobId
    job.sink = p.sink
    job.kind = p.kind
    job.pending = p
  end
  job.session_id = params.sessionId or job.session_id
  if params.kind == 'text' then
    job.status = 'answering…'
  elseif params.kind == 'status' or params.kind == 'tool' then
    job.status = params.text
  end
  if job.sink then
    local ok, e = pcall(job.sink, params)
    if not ok then notify('internal error: ' .. tostring(e), vim.log.levels.ERROR) end
  end
  if params.kind == 'done' or params.kind == 'error' then
    -- A job of ours is forgotten when its answer arrives; others (native code actions) now.
    if not job.pending then state.jobs[params.jobId] = nil end
    job.finished = true
  end
end

function M._on_stream(_, params, ctx)
  if type(params) ~= 'table' or not params.jobId then return end
  -- A late note of a request already answered (cancelled here) belongs to nothing any more.
  if not (params.streamId and state.finished_streams[params.streamId]) then route(params, ctx) end
  state.last_stream = params
  fire('EfritStream', params)
  redrawstatus()
end

--- A short description of what efrit is doing, for statuslines; '' when idle.
---   vim.o.statusline = [[%f %= %{luaeval('require("efrit").statusline()')}]]
function M.statusline()
  local active, last = 0, nil
  for _, job in pairs(state.jobs) do
    if not job.finished then
      active = active + 1
      last = job
    end
  end
  local waiting, newest = 0, nil
  for _, p in ipairs(state.pending) do
    if not p.job_id and p.kind ~= 'ghost' then
      waiting = waiting + 1
      newest = p
    end
  end
  local total = active + waiting
  if total == 0 then return '' end
  local what = last and last.status or 'waiting…'
  local label = last and last.kind or (newest or {}).kind
  local text = 'Efrit'
  if label and label ~= 'other' then text = text .. ' ' .. label end
  if total > 1 then text = text .. string.format(' (%d)', total) end
  return text .. ': ' .. what
end

--- The latest efrit/stream notification (for `User EfritStream` handlers on 0.7, which has no event data).
function M.last_stream()
  return state.last_stream
end

--- True while any request of ours (ghost text aside) is waiting for the server.
function M.busy()
  for _, p in ipairs(state.pending) do
    if p.kind ~= 'ghost' then return true end
  end
  return false
end

-- Chat ---------------------------------------------------------------------

local chat_keymaps

local function chat_source_buf()
  local current = api.nvim_get_current_buf()
  if current == ui.chat_buf() then
    local src = state.chat.source_buf
    if src and api.nvim_buf_is_valid(src) then return src end
    return nil
  end
  return current
end

--- Ends the current conversation and empties the chat buffer.
function M.new_chat()
  local chat = state.chat
  if chat.session_id then
    local client = (chat.source_buf and M.get_client(chat.source_buf)) or all_clients()[1]
    if client then call(client, 'request', 'efrit/endSession', { sessionId = chat.session_id }, function() end) end
  end
  state.chat = { session_id = nil, source_buf = nil, range = nil, busy = nil, turns = 0 }
  ui.clear()
end

--- Opens the chat window without sending anything.
function M.open_chat(focus)
  return ui.open_chat(chat_keymaps, focus)
end

--- Sends one chat turn. opts: { bufnr?, range?, retried? }
function M.chat(message, opts)
  opts = opts or {}
  if not message or vim.trim(message) == '' then
    M.open_chat(false)
    vim.ui.input({ prompt = 'Efrit> ' }, function(input)
      if input and vim.trim(input) ~= '' then M.chat(input, opts) end
    end)
    return
  end
  local chat = state.chat
  if chat.busy then
    notify('still answering the last message; wait, or :EfritCancel it', vim.log.levels.WARN)
    return
  end
  local src = opts.bufnr or chat_source_buf()
  local client = src and client_for(src, true) or nil
  if not client then
    client = all_clients()[1]
    src = nil
    if not client then
      notify('no efrit-lsp server is running; open a file first', vim.log.levels.WARN)
      return
    end
  end
  local encoding = encoding_of(client)
  local range = opts.range
  if src and not range then
    -- From the chat buffer: the range last used; from a file: the cursor, so the model sees where you are.
    if api.nvim_get_current_buf() == ui.chat_buf() and src == chat.source_buf then
      range = chat.range
    else
      range = cursor_range(src, encoding)
    end
  end
  if src ~= chat.source_buf then chat.range = nil end
  chat.source_buf = src
  chat.range = range or chat.range

  M.open_chat(false)
  local about = src and (' _(' .. describe_range(src, opts.range or nil) .. ')_') or ''
  ui.append({ header = { '## You' }, text = message .. about })
  local reply = ui.append({ header = { '## Efrit' }, text = '', placeholder = '_…_' })

  local params = { message = message, sessionId = chat.session_id }
  if src then
    params.textDocument = { uri = vim.uri_from_bufnr(src) }
    params.range = range
  end
  local streamed = ''
  local function sink(s)
    if s.kind == 'text' then
      streamed = streamed .. s.text
      ui.update(reply, { text = streamed })
    elseif s.kind == 'status' or s.kind == 'tool' then
      if streamed == '' then ui.update(reply, { placeholder = '_' .. s.text .. '_' }) end
    end
  end
  chat.busy = send(client, src, 'efrit/chat', params, 'chat', sink, chat.session_id, function(err, result)
    chat.busy = nil
    if err then
      local reason = error_reason(err)
      if reason == 'unknownSession' and not opts.retried then
        chat.session_id = nil
        ui.update(reply, { footer = '_(the session had expired; asking again in a new one)_' })
        M.chat(message, vim.tbl_extend('force', opts, { retried = true, bufnr = src, range = range }))
        return
      end
      local footer, level = failure_footer(err)
      ui.update(reply, { footer = footer, placeholder = false })
      notify(reason == 'cancelled' and 'chat cancelled' or error_text(err), level)
      return
    end
    chat.session_id = result.sessionId or chat.session_id
    chat.turns = chat.turns + 1
    -- The answer is authoritative; the streamed text was only a preview of it.
    ui.update(reply, { text = result.reply or streamed, placeholder = '_(no text)_' })
  end)
  if not chat.busy then ui.update(reply, { footer = '**Error:** the server is not running', placeholder = false }) end
end

--- The session id of the chat buffer's conversation, if any.
function M.chat_session()
  return state.chat.session_id
end

--- The chat buffer's number, if it exists.
function M.chat_buffer()
  return ui.chat_buf()
end

chat_keymaps = {
  ['<CR>'] = function() M.chat(nil) end,
  ['q'] = function() vim.cmd('close') end,
  ['<C-c>'] = function() M.cancel({ sessionId = state.chat.session_id }) end,
}

-- Do ---------------------------------------------------------------------

--- Runs efrit/do on the current buffer: the agent proposes an edit and the
--- server applies it through workspace/applyEdit. opts: { bufnr?, range?, new_session? }
function M.run_do(instruction, opts)
  opts = opts or {}
  if not instruction or vim.trim(instruction) == '' then
    vim.ui.input({ prompt = 'Efrit do: ' }, function(input)
      if input and vim.trim(input) ~= '' then M.run_do(input, opts) end
    end)
    return
  end
  local bufnr = opts.bufnr or chat_source_buf() or api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then return end
  local range = opts.range or cursor_range(bufnr, encoding_of(client))
  if opts.new_session then state.do_sessions[bufnr] = nil end
  local session_id = state.do_sessions[bufnr]
  local params = { instruction = instruction, textDocument = { uri = vim.uri_from_bufnr(bufnr) }, range = range, sessionId = session_id }
  notify('working on: ' .. instruction)
  send(client, bufnr, 'efrit/do', params, 'do', nil, session_id, function(err, result)
    if err then
      local reason = error_reason(err)
      if reason == 'unknownSession' and not opts.retried then
        state.do_sessions[bufnr] = nil
        M.run_do(instruction, vim.tbl_extend('force', opts, { retried = true, bufnr = bufnr, range = range }))
        return
      end
      local _, level = failure_footer(err)
      notify(error_text(err), level or vim.log.levels.INFO)
      return
    end
    state.do_sessions[bufnr] = result.sessionId
    local summary = (result.summary and result.summary ~= '') and result.summary or '(no summary)'
    if result.edit == nil or result.edit == vim.NIL then
      notify(summary)
    elseif result.applied then
      notify('done: ' .. summary)
    else
      notify('edit proposed but not applied: ' .. summary, vim.log.levels.WARN)
    end
  end)
end

-- Explain ------------------------------------------------------------------

--- Explains a range (default: the current line) with the explain action;
--- the text streams into a float or the chat buffer (config `explain`).
function M.explain(opts)
  opts = opts or {}
  local bufnr = opts.bufnr or api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then return end
  local encoding = encoding_of(client)
  local range = opts.range or line_range(bufnr, (cursor_of(bufnr) or { 1 })[1] - 1, encoding)
  local title = 'Explain ' .. describe_range(bufnr, range)
  local where = opts.where or state.config.explain
  local streamed = ''
  local sink, finish
  if where == 'chat' then
    M.open_chat(false)
    local entry = ui.append({ header = { '## ' .. title }, text = '', placeholder = '_…_' })
    sink = function(s)
      if s.kind == 'text' then
        streamed = streamed .. s.text
        ui.update(entry, { text = streamed })
      end
    end
    finish = function(text, footer) ui.update(entry, { text = text or streamed, footer = footer, placeholder = false }) end
  else
    local float = ui.open_float('# ' .. title)
    M._last_float = float
    sink = function(s)
      if s.kind == 'text' then
        streamed = streamed .. s.text
        ui.update_float(float, { text = streamed })
      end
    end
    finish = function(text, footer) ui.update_float(float, { text = text or streamed, footer = footer }) end
  end
  local args = { actionId = 'explain', textDocument = { uri = vim.uri_from_bufnr(bufnr) }, range = range }
  send(client, bufnr, 'workspace/executeCommand', { command = 'efrit.runAction', arguments = { args } }, 'explain', sink, nil, function(err, result)
    if err then
      local footer, level = failure_footer(err)
      finish(nil, footer)
      if level then notify(error_text(err), level) end
      return
    end
    local text = type(result) == 'table' and type(result.text) == 'string' and result.text or nil
    finish(text, nil)
  end)
end

-- Ghost text -----------------------------------------------------------------
--
-- Neovim 0.12+ shows textDocument/inlineCompletion itself (vim.lsp.inline_completion).
-- Elsewhere the plugin does: after a pause in typing (or at once with
-- complete()), it asks the server and shows the first suggestion as virtual
-- text at the cursor, in its own namespace. Only the latest request counts,
-- and an answer is dropped if the buffer changed or the cursor moved meanwhile.

local ghost_ns = api.nvim_create_namespace('efrit_ghost')
local ghost = {
  --- The suggestion on screen: { buf, row, col, before, text, command, client_id, tick }.
  shown = nil,
  --- Counts requests; an answer counts only if no request (or reset) came after it.
  seq = 0,
  timer = nil,
  --- bufnr -> augroup id, for buffers with the ghost text autocommands.
  bufs = {},
}

--- Neovim's own inline completion is there and wanted.
function M._native_ghost()
  local inline = vim.lsp.inline_completion
  return state.config.ghost_text.native ~= false and inline ~= nil and type(inline.enable) == 'function'
end

local function insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function ghost_highlight()
  pcall(vim.cmd, 'highlight default link EfritGhost Comment')
  if ghost.colors then return end
  -- A colorscheme's :highlight clear drops the link: set it again.
  ghost.colors = api.nvim_create_autocmd('ColorScheme', {
    group = api.nvim_create_augroup('efrit_ghost_colors', { clear = true }),
    callback = function() pcall(vim.cmd, 'highlight default link EfritGhost Comment') end,
  })
end

--- Removes the suggestion from the screen (answers still on their way may show later).
function M.dismiss()
  local g = ghost.shown
  ghost.shown = nil
  if g and api.nvim_buf_is_valid(g.buf) then api.nvim_buf_clear_namespace(g.buf, ghost_ns, 0, -1) end
end

--- Forgets everything: the suggestion, the pending timer and the answers on their way.
local function ghost_reset()
  ghost.seq = ghost.seq + 1
  if ghost.timer then ghost.timer:stop() end
  M.dismiss()
end

--- Shows `text` as ghost text at (row, col); false when it cannot be shown there.
local function ghost_show(bufnr, row, col, text, command, client_id)
  M.dismiss()
  text = text:gsub('\r\n', '\n')
  if text == '' then return false end
  local line = buf_line(bufnr, row)
  local lines = vim.split(text, '\n', { plain = true })
  -- Before 0.10 virtual text cannot sit between characters ('overlay' would hide them).
  local inline = has('nvim-0.10')
  if col < #line and not inline then return false end
  local tab = string.rep(' ', vim.bo[bufnr].tabstop)
  local function chunk(s) return { { (s:gsub('\t', tab)), 'EfritGhost' } } end
  local opts = { virt_text = chunk(lines[1]), virt_text_pos = inline and 'inline' or 'eol', hl_mode = 'combine' }
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do table.insert(opts.virt_lines, chunk(lines[i])) end
  end
  local ok = pcall(api.nvim_buf_set_extmark, bufnr, ghost_ns, row, col, opts)
  if not ok then return false end
  ghost.shown = {
    buf = bufnr, row = row, col = col, before = line:sub(1, col), text = text,
    command = command, client_id = client_id, tick = api.nvim_buf_get_changedtick(bufnr),
  }
  return true
end

--- After a keystroke or cursor move: keeps the suggestion if the cursor is
--- where it was shown, or shows its rest if the user typed its beginning;
--- clears it otherwise. True while a suggestion shows.
local function ghost_follow(bufnr)
  local g = ghost.shown
  if not g then return false end
  if g.buf ~= bufnr or not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr then
    M.dismiss()
    return false
  end
  local cursor = api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local tick = api.nvim_buf_get_changedtick(bufnr)
  if row == g.row and col == g.col and tick == g.tick then return true end
  local line = buf_line(bufnr, row)
  if row == g.row and col > g.col and col == #line and line:sub(1, g.col) == g.before then
    local typed = line:sub(g.col + 1)
    local first = g.text:match('^[^\n]*')
    if #typed < #first and first:sub(1, #typed) == typed then
      return ghost_show(bufnr, row, col, g.text:sub(#typed + 1), g.command, g.client_id)
    end
  end
  M.dismiss()
  return false
end

--- True when a suggestion shows at the cursor of the current buffer.
local function ghost_showing()
  return ghost.shown ~= nil and ghost_follow(api.nvim_get_current_buf())
end

--- Asks the server for a suggestion at the cursor. trigger: 1 invoked, 2 automatic.
local function ghost_request(bufnr, trigger)
  local client = client_for(bufnr, trigger ~= 1)
  if not client then return end
  local cursor = cursor_of(bufnr)
  if not cursor then return end
  local row, col = cursor[1] - 1, cursor[2]
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local at = position(bufnr, row, col, encoding_of(client))
  ghost.seq = ghost.seq + 1
  local seq = ghost.seq
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = at, context = { triggerKind = trigger } }
  send(client, bufnr, 'textDocument/inlineCompletion', params, 'ghost', nil, nil, function(err, result)
    if seq ~= ghost.seq then return end
    if err then
      if trigger == 1 and error_reason(err) ~= 'cancelled' then notify(error_text(err), vim.log.levels.WARN) end
      return
    end
    -- Stale: the user typed or moved meanwhile.
    if not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr then return end
    local now = cursor_of(bufnr)
    if api.nvim_buf_get_changedtick(bufnr) ~= tick or not now or now[1] - 1 ~= row or now[2] ~= col then return end
    -- InlineCompletionList or InlineCompletionItem[]
    local items = type(result) == 'table' and (result.items or result) or {}
    for _, item in ipairs(type(items) == 'table' and items or {}) do
      local text = item.insertText
      if type(text) == 'table' then text = text.value end
      local r = item.range
      -- The server's range is always the cursor; skip anything that would replace text.
      local at_cursor = type(r) ~= 'table' or (r.start.line == at.line and r.start.character == at.character
        and r['end'].line == at.line and r['end'].character == at.character)
      if type(text) == 'string' and text ~= '' and at_cursor then
        local command = type(item.command) == 'table' and item.command or nil
        if ghost_show(bufnr, row, col, text, command, client.id) then return end
      end
    end
  end)
end

local function ghost_arm(bufnr)
  local c = state.config
  if not (c.inline_completion and c.ghost_text.auto) then return end
  if not ghost.timer then ghost.timer = uv.new_timer() end
  ghost.timer:stop()
  ghost.timer:start(c.ghost_text.delay or 150, 0, vim.schedule_wrap(function()
    if api.nvim_buf_is_valid(bufnr) and api.nvim_get_current_buf() == bufnr and insert_mode() then
      ghost_request(bufnr, 2)
    end
  end))
end

--- Sets up ghost text in `bufnr`: autocommands and the accept key. Idempotent.
function M._ghost_attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if ghost.bufs[bufnr] or not api.nvim_buf_is_valid(bufnr) then return end
  ghost_highlight()
  local group = api.nvim_create_augroup('efrit_ghost_' .. bufnr, { clear = true })
  ghost.bufs[bufnr] = group
  local function au(events, fn) api.nvim_create_autocmd(events, { group = group, buffer = bufnr, callback = fn }) end
  au({ 'TextChangedI', 'TextChangedP' }, function()
    if not ghost_follow(bufnr) then ghost_arm(bufnr) end
  end)
  au({ 'CursorMovedI', 'CursorMoved' }, function() ghost_follow(bufnr) end)
  au({ 'InsertLeave', 'BufLeave' }, function() ghost_reset() end)
  au('BufWipeout', function()
    ghost.bufs[bufnr] = nil
    pcall(api.nvim_del_augroup_by_id, group)
  end)
  local key = state.config.ghost_text.accept_key
  if type(key) == 'string' and key ~= '' then
    vim.keymap.set('i', key, function()
      -- Buffer changes are not allowed in an <expr> mapping: accept through <Cmd>.
      if ghost_showing() then return '<Cmd>lua require("efrit").accept()<CR>' end
      return key
    end, { buffer = bufnr, expr = true, desc = 'Efrit: accept the suggestion, else ' .. key })
  end
end

--- Asks for a suggestion at the cursor now (triggerKind 1, never skipped by
--- the server) and shows it as ghost text. Meant for Insert mode, e.g.
---   vim.keymap.set('i', '<C-Space>', require('efrit').complete)
function M.complete(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if not client_for(bufnr) then return end
  M._ghost_attach(bufnr)
  if ghost.timer then ghost.timer:stop() end
  ghost_request(bufnr, 1)
end

--- The suggestion on screen at the cursor: { text, row, col, bufnr } (0-based row, byte col), or nil.
function M.suggestion()
  if not ghost_showing() then return nil end
  local g = ghost.shown
  return { text = g.text, row = g.row, col = g.col, bufnr = g.buf }
end

--- Inserts the suggestion at the cursor, moves the cursor to its end and
--- tells the server (its command, through workspace/executeCommand).
--- False when no suggestion shows.
function M.accept()
  if not ghost_showing() then
    local inline = vim.lsp.inline_completion
    if M._native_ghost() and type(inline.get) == 'function' then return inline.get() and true or false end
    return false
  end
  local g = ghost.shown
  ghost_reset()
  local lines = vim.split(g.text, '\n', { plain = true })
  api.nvim_buf_set_text(g.buf, g.row, g.col, g.row, g.col, lines)
  local end_row = g.row + #lines - 1
  local end_col = (#lines == 1 and g.col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  local client = vim.lsp.get_client_by_id(g.client_id)
  if g.command and g.command.command and client then
    local params = { command = g.command.command, arguments = g.command.arguments }
    send(client, g.buf, 'workspace/executeCommand', params, 'ghost', nil, nil, function(err)
      if err and error_reason(err) ~= 'cancelled' then notify(error_text(err), vim.log.levels.WARN) end
    end)
  end
  return true
end

-- Status and cancel ------------------------------------------------------------

local function format_status(s)
  local q, u = s.queue or {}, s.usage or {}
  local lines = {
    string.format('efrit-lsp %s — model %s%s', s.version or '?', s.model or '?',
      s.apiKeyConfigured == false and ' — no API key (set ANTHROPIC_API_KEY)' or ''),
    string.format('queue: %d running, %d queued (concurrency %s)', q.running or 0, q.queued or 0, tostring(q.concurrency or '?')),
    string.format('sessions: %d open; documents: %d open', (s.sessions or {}).open or 0, (s.documents or {}).open or 0),
    string.format('usage: %d requests, %d input / %d output tokens, cache %d read / %d written',
      u.requests or 0, u.inputTokens or 0, u.outputTokens or 0, u.cacheReadTokens or 0, u.cacheWriteTokens or 0),
  }
  if type(q.backoff) == 'table' and q.backoff.active then
    table.insert(lines, string.format('backing off for %d ms (%s)', q.backoff.remainingMs or 0, tostring(q.backoff.reason)))
  end
  return table.concat(lines, '\n')
end

--- Shows efrit/status; `callback(result)` instead when given.
function M.status(callback)
  local client = client_for(chat_source_buf() or api.nvim_get_current_buf(), true) or all_clients()[1]
  if not client then
    notify('no efrit-lsp server is running', vim.log.levels.WARN)
    return
  end
  send(client, nil, 'efrit/status', vim.empty_dict(), 'other', nil, nil, function(err, result)
    if err then return notify(error_text(err), vim.log.levels.ERROR) end
    if callback then return callback(result) end
    notify(format_status(result))
  end)
end

--- Our requests waiting for a job that `target` covers: all when it names nothing, else those of its session or job.
local function pending_for(target)
  local found = {}
  for _, p in ipairs(state.pending) do
    local job = p.job_id and state.jobs[p.job_id]
    local session = p.session_id or (job and job.session_id)
    local covered = (target.jobId == nil and target.sessionId == nil)
      or (target.jobId ~= nil and p.job_id == target.jobId)
      or (target.sessionId ~= nil and session == target.sessionId)
    if covered and p.kind ~= 'ghost' and p.kind ~= 'other' then table.insert(found, p) end
  end
  return found
end

--- Cancels efrit's work: everything by default, or { jobId } / { sessionId }.
--- Our own requests get $/cancelRequest and are finished here at once (their RequestCancelled
--- answer never reaches a handler); efrit/cancel ends the server's other jobs.
function M.cancel(target)
  target = target or {}
  local clients = all_clients()
  if #clients == 0 then
    notify('nothing to cancel: no efrit-lsp server is running', vim.log.levels.WARN)
    return
  end
  local mine = pending_for(target)
  for _, p in ipairs(mine) do
    local client = vim.lsp.get_client_by_id(p.client_id)
    if client and p.request_id then call(client, 'cancel_request', p.request_id) end
    p.finish({ code = REQUEST_CANCELLED, message = 'cancelled', data = { reason = 'cancelled' } }, nil)
  end
  local total, answers = #mine, 0
  for _, client in ipairs(clients) do
    call(client, 'request', 'efrit/cancel', object(target), function(err, result)
      answers = answers + 1
      if not err and type(result) == 'table' then total = total + (result.cancelled or 0) end
      if answers == #clients then notify(string.format('cancelled %d job(s)', total)) end
    end)
  end
end

-- Setup --------------------------------------------------------------------

local function create_commands()
  local function cmd(name, fn, opts)
    pcall(api.nvim_del_user_command, name)
    api.nvim_create_user_command(name, fn, opts)
  end
  local function range_of(opts)
    local src = chat_source_buf() or api.nvim_get_current_buf()
    if api.nvim_get_current_buf() == ui.chat_buf() then return src, nil end
    local client = M.get_client(src)
    return src, command_range(src, opts, encoding_of(client))
  end
  cmd('EfritChat', function(opts)
    if opts.bang then M.new_chat() end
    local src, range = range_of(opts)
    M.chat(opts.args, { bufnr = src, range = range })
  end, { nargs = '*', range = true, bang = true, desc = 'Efrit: chat about the current file (! starts a new conversation)' })
  cmd('EfritDo', function(opts)
    local src, range = range_of(opts)
    M.run_do(opts.args, { bufnr = src, range = range, new_session = opts.bang })
  end, { nargs = '*', range = true, bang = true, desc = 'Efrit: let the agent edit the current file' })
  cmd('EfritExplain', function(opts)
    local src, range = range_of(opts)
    M.explain({ bufnr = src, range = range })
  end, { range = true, desc = 'Efrit: explain the selected lines (default: the current line)' })
  cmd('EfritStatus', function() M.status() end, { desc = 'Efrit: server status and usage' })
  cmd('EfritCancel', function() M.cancel() end, { desc = 'Efrit: cancel all running efrit jobs' })
  cmd('EfritComplete', function() M.complete() end, { desc = 'Efrit: ghost text at the cursor now (inline completion)' })
end

--- require('efrit').setup{ cmd = {...}, filetypes = {...}, init_options = {...}, root_markers = {...} }
function M.setup(opts)
  opts = opts or {}
  vim.validate({
    cmd = { opts.cmd, 't', true },
    filetypes = { opts.filetypes, 't', true },
    init_options = { opts.init_options, 't', true },
    root_markers = { opts.root_markers, 't', true },
    on_attach = { opts.on_attach, 'f', true },
    ghost_text = { opts.ghost_text, 't', true },
  })
  state.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts)
  -- Lists are replaced, not merged.
  for _, key in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if opts[key] then state.config[key] = opts[key] end
  end
  if opts.init_options then state.config.init_options = opts.init_options end
  ui.chat_options = state.config.chat
  if state.config.create_commands then create_commands() end
  if state.config.autostart then start_autostart() end
  state.set_up = true
  return M
end

--- The resolved configuration (read-only use).
function M.config()
  return state.config
end

function M.is_set_up()
  return state.set_up
end

--- Every running efrit client.
function M.clients()
  return all_clients()
end

return M
