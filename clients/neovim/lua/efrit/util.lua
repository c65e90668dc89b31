-- efrit.util: what every part of the plugin uses: messages, version checks,
-- client calls across Neovim versions, events, and the server's error answers.
local api = vim.api

local M = {}

function M.has(feature)
  return vim.fn.has(feature) == 1
end

function M.notify(message, level)
  vim.notify('Efrit: ' .. message, level or vim.log.levels.INFO, { title = 'Efrit' })
end

function M.is_empty(t)
  return type(t) ~= 'table' or next(t) == nil
end

--- Lua {} encodes as [] in JSON; the server wants objects.
function M.object(t)
  if M.is_empty(t) then return vim.empty_dict() end
  return t
end

--- Calls a client method the way the running Neovim wants it (colon calls from 0.11).
function M.call(client, method, ...)
  if M.has('nvim-0.11') then return client[method](client, ...) end
  return client[method](...)
end

--- Fires `User {pattern}`; `data` reaches handlers from 0.8 on.
function M.fire(pattern, data)
  local opts = { pattern = pattern, modeline = false }
  if M.has('nvim-0.8') then opts.data = data end
  pcall(api.nvim_exec_autocmds, 'User', opts)
end

function M.redrawstatus()
  pcall(vim.cmd, 'redrawstatus')
end

--- `bufnr`, with nil and 0 meaning the current buffer.
function M.buf(bufnr)
  if bufnr == nil or bufnr == 0 then return api.nvim_get_current_buf() end
  return bufnr
end

-- The server's error answers ------------------------------------------------

--- LSP ErrorCodes.RequestCancelled: only ever the answer to our own $/cancelRequest.
M.REQUEST_CANCELLED = -32800
--- LSP 3.17 ServerCancelled: the server ended the request's job; data.reason says why.
M.SERVER_CANCELLED = -32802

function M.error_reason(err)
  if type(err) ~= 'table' then return nil end
  if err.code == M.REQUEST_CANCELLED then return 'cancelled' end
  return type(err.data) == 'table' and err.data.reason or nil
end

--- A job the server ended by itself (a newer request, the session ending, shutdown): why, for the user; else nil.
--- Its reason `cancelled` is the user's own :EfritCancel, nothing to report.
local function server_cancelled(err)
  if type(err) ~= 'table' or err.code ~= M.SERVER_CANCELLED or M.error_reason(err) == 'cancelled' then return nil end
  return 'the server cancelled it: ' .. (err.message or M.error_reason(err) or '')
end

function M.error_text(err)
  if type(err) ~= 'table' then return tostring(err) end
  if M.error_reason(err) == 'cancelled' then return 'cancelled' end
  return server_cancelled(err) or err.message or vim.inspect(err)
end

--- How a failed request ends its entry: a footer, and the level to notify at (nil: no notification).
function M.failure_footer(err)
  if M.error_reason(err) == 'cancelled' then return '_[cancelled]_', nil end
  local by_server = server_cancelled(err)
  if by_server then return '_[' .. by_server .. ']_', vim.log.levels.WARN end
  return '**Error:** ' .. M.error_text(err), vim.log.levels.ERROR
end

return M
