-- efrit.status: what efrit is doing (statusline), the server's status
-- (:EfritStatus) and cancelling its work (:EfritCancel).
local client = require('efrit.client')
local rpc = require('efrit.rpc')
local util = require('efrit.util')

local M = {}

--- client id -> true when its server answers with the built-in demo model (efrit/status `offline`).
local offline = {}

--- Asks a newly attached server once whether it runs offline, for statusline(). Not a request of the
--- user's: it goes past rpc.send, so it never shows as work in statusline() or busy().
function M.learn(c)
  if offline[c.id] ~= nil then return end
  offline[c.id] = false
  pcall(util.call, c, 'request', 'efrit/status', vim.empty_dict(), function(err, result)
    if not err and type(result) == 'table' then offline[c.id] = result.offline == true end
  end)
end

--- True when a running server answers with the built-in demo model.
function M.offline()
  for _, c in ipairs(client.all()) do
    if offline[c.id] then return true end
  end
  return false
end

--- A short description of what efrit is doing, for statuslines; '' when idle.
---   vim.o.statusline = [[%f %= %{luaeval('require("efrit").statusline()')}]]
function M.statusline()
  local active, last = 0, nil
  for _, job in pairs(rpc.state.jobs) do
    if not job.finished then
      active = active + 1
      last = job
    end
  end
  local waiting, newest = 0, nil
  for _, p in ipairs(rpc.state.pending) do
    if not p.job_id and p.kind ~= 'ghost' then
      waiting = waiting + 1
      newest = p
    end
  end
  local total = active + waiting
  if total == 0 then return '' end
  local what = last and last.status or 'waiting…'
  local label = last and last.kind or (newest or {}).kind
  local text = M.offline() and 'Efrit (offline)' or 'Efrit'
  if label and label ~= 'other' then text = text .. ' ' .. label end
  if total > 1 then text = text .. string.format(' (%d)', total) end
  return text .. ': ' .. what
end

--- What the server's `spend` says was spent, as one line, or nil when nothing was asked of a model.
--- Calls to a model with no known price are counted, never priced: a made-up figure would mislead.
function M.spend_text(spend)
  if type(spend) ~= 'table' or (spend.requests or 0) == 0 then return nil end
  local unpriced = spend.unpricedRequests or 0
  if unpriced == spend.requests then return 'spent: no price known for this model (tokens only)' end
  local text = string.format('spent: $%.4f', spend.usd or 0)
  if unpriced > 0 then
    text = text .. string.format(' (+%d call%s with no known price)', unpriced, unpriced == 1 and '' or 's')
  end
  return text
end

--- One line per provider that answered (efrit/status `providers`), by name: its requests, tokens and
--- dollars, or tokens only where no price is known. Empty for a server that sends no `providers`.
function M.provider_lines(providers)
  local lines = {}
  if type(providers) ~= 'table' then return lines end
  local names = vim.tbl_keys(providers)
  table.sort(names)
  for _, name in ipairs(names) do
    local p = providers[name]
    local requests = type(p) == 'table' and (p.requests or 0) or 0
    if requests > 0 then
      -- Every prompt token is "in": those written to the cache are input too, those read from it are said apart.
      local read = p.cacheReadTokens or 0
      local prompt = (p.inputTokens or 0) + (p.cacheWriteTokens or 0) + read
      local unpriced = p.unpricedRequests or 0
      local money
      if unpriced >= requests then
        money = 'no price known (tokens only)'
      else
        money = string.format('$%.4f', p.usd or 0)
        if unpriced > 0 then
          money = money .. string.format(' (+%d call%s with no known price)', unpriced, unpriced == 1 and '' or 's')
        end
      end
      local from_cache = read > 0 and string.format(' (%d from the cache)', read) or ''
      table.insert(lines, string.format('%s: %d request%s · tokens in %d%s, out %d · %s',
        name, requests, requests == 1 and '' or 's', prompt, from_cache, p.outputTokens or 0, money))
    end
  end
  return lines
end

--- The efrit/status answer as the lines :EfritStatus shows.
function M.format(s)
  local q, u = s.queue or {}, s.usage or {}
  local model = s.offline == true and 'offline: the built-in demo model answers, no API calls'
    or ('model ' .. tostring(s.model or '?') .. (s.apiKeyConfigured == false and ' — no API key (set ANTHROPIC_API_KEY)' or ''))
  local lines = {
    string.format('efrit-lsp %s — %s', s.version or '?', model),
    string.format('queue: %d running, %d queued (concurrency %s)', q.running or 0, q.queued or 0, tostring(q.concurrency or '?')),
    string.format('sessions: %d open; documents: %d open', (s.sessions or {}).open or 0, (s.documents or {}).open or 0),
    string.format('usage: %d requests, %d input / %d output tokens, cache %d read / %d written',
      u.requests or 0, u.inputTokens or 0, u.outputTokens or 0, u.cacheReadTokens or 0, u.cacheWriteTokens or 0),
  }
  local spend = M.spend_text(s.spend)
  if spend ~= nil then table.insert(lines, spend) end
  vim.list_extend(lines, M.provider_lines(s.providers))
  if type(q.backoff) == 'table' and q.backoff.active then
    table.insert(lines, string.format('backing off for %d ms (%s)', q.backoff.remainingMs or 0, tostring(q.backoff.reason)))
  end
  return table.concat(lines, '\n')
end

--- Shows efrit/status; `callback(result)` instead when given.
function M.status(callback)
  local source = require('efrit.chat').source_buf() or vim.api.nvim_get_current_buf()
  client.when_ready(source, function(c)
    rpc.send(c, nil, 'efrit/status', vim.empty_dict(), 'other', nil, nil, function(err, result)
      if err then return util.notify(util.error_text(err), vim.log.levels.ERROR) end
      if type(result) == 'table' then offline[c.id] = result.offline == true end
      if callback then return callback(result) end
      util.notify(M.format(result))
    end)
  end, { any = true })
end

--- Cancels efrit's work: everything by default, or { jobId } / { sessionId }.
--- Our own requests get $/cancelRequest and are finished here at once (their RequestCancelled
--- answer never reaches a handler); efrit/cancel ends the server's other jobs.
function M.cancel(target)
  target = target or {}
  local clients = client.all()
  if #clients == 0 then
    util.notify('nothing to cancel: no efrit-lsp server is running', vim.log.levels.WARN)
    return
  end
  local mine = rpc.pending_for(target)
  for _, p in ipairs(mine) do
    local c = vim.lsp.get_client_by_id(p.client_id)
    if c and p.request_id then util.call(c, 'cancel_request', p.request_id) end
    p.finish({ code = util.REQUEST_CANCELLED, message = 'cancelled', data = { reason = 'cancelled' } }, nil)
  end
  local total, answers = #mine, 0
  for _, c in ipairs(clients) do
    util.call(c, 'request', 'efrit/cancel', util.object(target), function(err, result)
      answers = answers + 1
      if not err and type(result) == 'table' then total = total + (result.cancelled or 0) end
      if answers == #clients then util.notify(string.format('cancelled %d job(s)', total)) end
    end)
  end
end

return M
