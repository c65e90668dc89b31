-- efrit.explain: :EfritExplain, the explain action (efrit.runAction) with its
-- text streamed into a float at the cursor or into the chat buffer.
local api = vim.api
local client = require('efrit.client')
local config = require('efrit.config')
local positions = require('efrit.positions')
local rpc = require('efrit.rpc')
local ui = require('efrit.ui')
local util = require('efrit.util')

local M = {}

--- The float of the latest explanation (for tests and users' own mappings).
M.last_float = nil

local function explain_with(c, bufnr, range, where)
  local title = 'Explain ' .. positions.describe_range(bufnr, range)
  local streamed = ''
  local sink, finish
  if where == 'chat' then
    require('efrit.chat').open_chat(false)
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
    M.last_float = float
    sink = function(s)
      if s.kind == 'text' then
        streamed = streamed .. s.text
        ui.update_float(float, { text = streamed })
      end
    end
    finish = function(text, footer) ui.update_float(float, { text = text or streamed, footer = footer }) end
  end
  local args = { actionId = 'explain', textDocument = { uri = vim.uri_from_bufnr(bufnr) }, range = range }
  local params = { command = 'efrit.runAction', arguments = { args } }
  rpc.send(c, bufnr, 'workspace/executeCommand', params, 'explain', sink, nil, function(err, result)
    if err then
      local footer, level = util.failure_footer(err)
      finish(nil, footer)
      if level then util.notify(util.error_text(err), level) end
      return
    end
    local text = type(result) == 'table' and type(result.text) == 'string' and result.text or nil
    finish(text, nil)
  end)
end

--- Explains a range (default: the current line); the text streams into a
--- float or the chat buffer (option `explain`). opts: { bufnr?, range?, where? }
function M.explain(opts)
  opts = opts or {}
  local bufnr = opts.bufnr or api.nvim_get_current_buf()
  local row = (positions.cursor_of(bufnr) or { 1 })[1] - 1
  local where = opts.where or config.values.explain
  client.when_ready(bufnr, function(c)
    local range = opts.range or positions.line_range(bufnr, row, positions.encoding_of(c))
    explain_with(c, bufnr, range, where)
  end)
end

return M
