-- efrit.rpc: the plugin's requests, and the efrit/stream notes routed to them.
--
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
local util = require('efrit.util')

local M = {}

M.state = {
  --- jobId -> { status, sink, kind, session_id, pending, finished }
  jobs = {},
  --- Requests of ours that are waiting for an answer, oldest first.
  pending = {},
  --- streamId -> the pending request that named its job's stream so.
  streams = {},
  --- Stream ids of requests already answered, oldest first (bounded): their late notes are dropped.
  finished_streams = {},
  last_stream = nil,
  next_pending_id = 0,
}
local state = M.state

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
function M.send(client, bufnr, method, params, kind, sink, session_id, on_result)
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
    util.redrawstatus()
    local ok, e = xpcall(on_result, debug.traceback, err, result)
    if not ok then util.notify('internal error: ' .. tostring(e), vim.log.levels.ERROR) end
    if kind ~= 'ghost' then util.fire('EfritRequestDone', { kind = kind, error = err and util.error_text(err) or nil }) end
  end
  table.insert(state.pending, pending)
  if pending.stream_id then state.streams[pending.stream_id] = pending end
  local ok, request_id = util.call(client, 'request', method, params, function(err, result)
    pending.finish(err, result)
  end, bufnr)
  if not ok then
    pending.done = true
    table.remove(state.pending, #state.pending)
    if pending.stream_id then state.streams[pending.stream_id] = nil end
    util.notify('the server is not running', vim.log.levels.ERROR)
    return nil
  end
  pending.request_id = request_id
  util.redrawstatus()
  return pending
end

--- The server of `client_id` stopped: its requests will never be answered.
function M.server_stopped(client_id)
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
    if not ok then util.notify('internal error: ' .. tostring(e), vim.log.levels.ERROR) end
  end
  if params.kind == 'done' or params.kind == 'error' then
    -- A job of ours is forgotten when its answer arrives; others (native code actions) now.
    if not job.pending then state.jobs[params.jobId] = nil end
    job.finished = true
  end
end

--- The efrit/stream handler.
function M.on_stream(_, params, ctx)
  if type(params) ~= 'table' or not params.jobId then return end
  -- A late note of a request already answered (cancelled here) belongs to nothing any more.
  if not (params.streamId and state.finished_streams[params.streamId]) then route(params, ctx) end
  state.last_stream = params
  util.fire('EfritStream', params)
  util.redrawstatus()
end

--- True while any request of ours (ghost text aside) is waiting for the server.
function M.busy()
  for _, p in ipairs(state.pending) do
    if p.kind ~= 'ghost' then return true end
  end
  return false
end

--- Our requests waiting for a job that `target` covers: all when it names nothing, else those of its session or job.
function M.pending_for(target)
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

return M
