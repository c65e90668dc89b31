-- efrit.agent: :EfritDo, the agent (efrit/do) that changes the workspace. By
-- default its change is shown for review first (efrit.review: asked with
-- `apply: false`, applied by efrit.applyJob once accepted); with review off the
-- server applies it at once through workspace/applyEdit.
local api = vim.api
local client = require('efrit.client')
local config = require('efrit.config')
local positions = require('efrit.positions')
local rpc = require('efrit.rpc')
local util = require('efrit.util')

local M = {}

--- :EfritDo sessions, per source buffer.
local sessions = {}

--- True when :EfritDo's changes are shown for review before they land.
local function reviewing(opts)
  if opts.review ~= nil then return opts.review end
  return (config.values.review or {}).enabled ~= false
end

--- Runs efrit/do on a buffer. opts: { bufnr?, range?, new_session?, review? (default: setup's review.enabled), retried? }
function M.run_do(instruction, opts)
  opts = opts or {}
  if not instruction or vim.trim(instruction) == '' then
    vim.ui.input({ prompt = 'Efrit do: ' }, function(input)
      if input and vim.trim(input) ~= '' then M.run_do(input, opts) end
    end)
    return
  end
  local bufnr = opts.bufnr or require('efrit.chat').source_buf() or api.nvim_get_current_buf()
  -- Where the user is, taken now: the request may wait for the server to start.
  local cursor = positions.cursor_of(bufnr)
  client.when_ready(bufnr, function(c)
    local range = opts.range
    if not range and cursor then
      local at = positions.position(bufnr, cursor[1] - 1, cursor[2], positions.encoding_of(c))
      range = { start = at, ['end'] = at }
    end
    if opts.new_session then sessions[bufnr] = nil end
    local session_id = sessions[bufnr]
    local params = { instruction = instruction, textDocument = { uri = vim.uri_from_bufnr(bufnr) }, range = range, sessionId = session_id }
    local review = reviewing(opts)
    if review then params.apply = false end
    util.notify('working on: ' .. instruction)
    rpc.send(c, bufnr, 'efrit/do', params, 'do', nil, session_id, function(err, result)
      if err then
        if util.error_reason(err) == 'unknownSession' and not opts.retried then
          sessions[bufnr] = nil
          M.run_do(instruction, vim.tbl_extend('force', opts, { retried = true, bufnr = bufnr, range = range }))
          return
        end
        local _, level = util.failure_footer(err)
        util.notify(util.error_text(err), level or vim.log.levels.INFO)
        return
      end
      sessions[bufnr] = result.sessionId
      local summary = (result.summary and result.summary ~= '') and result.summary or '(no summary)'
      if result.edit == nil or result.edit == vim.NIL then
        util.notify(summary)
      elseif result.applied then
        util.notify('done: ' .. summary)
      elseif review then
        require('efrit.review').open(result, { client = c, bufnr = bufnr })
      else
        util.notify('edit proposed but not applied: ' .. summary, vim.log.levels.WARN)
      end
    end)
  end)
end

return M
