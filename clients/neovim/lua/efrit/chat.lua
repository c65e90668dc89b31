-- efrit.chat: :EfritChat, a conversation (efrit/chat) whose replies stream into the chat buffer.
local api = vim.api
local client = require('efrit.client')
local positions = require('efrit.positions')
local rpc = require('efrit.rpc')
local ui = require('efrit.ui')
local util = require('efrit.util')

local M = {}

local function fresh()
  return { session_id = nil, source_buf = nil, range = nil, busy = nil, turns = 0 }
end

--- The conversation of the chat buffer.
local chat = fresh()

--- The buffer a command talks about: the current one, or from the chat buffer the file the conversation is tied to.
function M.source_buf()
  local current = api.nvim_get_current_buf()
  if current == ui.chat_buf() then
    local src = chat.source_buf
    if src and api.nvim_buf_is_valid(src) then return src end
    return nil
  end
  return current
end

--- Ends the current conversation and empties the chat buffer.
function M.new_chat()
  if chat.session_id then
    local c = (chat.source_buf and client.get(chat.source_buf)) or client.all()[1]
    if c then util.call(c, 'request', 'efrit/endSession', { sessionId = chat.session_id }, function() end) end
  end
  chat = fresh()
  ui.clear()
end

local keymaps

--- Opens the chat window without sending anything.
function M.open_chat(focus)
  return ui.open_chat(keymaps, focus)
end

--- Sends one turn once the server is ready: the chat window shows it at once.
local function send_turn(c, message, src, opts)
  local range = opts.range
  if src and not range then
    -- From the chat buffer: the range last used; from a file: the cursor, so the model sees where you are.
    if opts.from_chat and src == chat.source_buf then
      range = chat.range
    elseif opts.cursor then
      local at = positions.position(src, opts.cursor[1] - 1, opts.cursor[2], positions.encoding_of(c))
      range = { start = at, ['end'] = at }
    end
  end
  if src ~= chat.source_buf then chat.range = nil end
  chat.source_buf = src
  chat.range = range or chat.range

  M.open_chat(false)
  local about = src and (' _(' .. positions.describe_range(src, opts.range or nil) .. ')_') or ''
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
  chat.busy = rpc.send(c, src, 'efrit/chat', params, 'chat', sink, chat.session_id, function(err, result)
    chat.busy = nil
    if err then
      local reason = util.error_reason(err)
      if reason == 'unknownSession' and not opts.retried then
        chat.session_id = nil
        ui.update(reply, { footer = '_(the session had expired; asking again in a new one)_' })
        M.chat(message, vim.tbl_extend('force', opts, { retried = true, bufnr = src, range = range }))
        return
      end
      local footer, level = util.failure_footer(err)
      ui.update(reply, { footer = footer, placeholder = false })
      util.notify(reason == 'cancelled' and 'chat cancelled' or util.error_text(err), level)
      return
    end
    chat.session_id = result.sessionId or chat.session_id
    chat.turns = chat.turns + 1
    -- The answer is authoritative; the streamed text was only a preview of it.
    ui.update(reply, { text = result.reply or streamed, placeholder = '_(no text)_' })
  end)
  if not chat.busy then ui.update(reply, { footer = '**Error:** the server is not running', placeholder = false }) end
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
  if chat.busy then
    util.notify('still answering the last message; wait, or :EfritCancel it', vim.log.levels.WARN)
    return
  end
  local src = opts.bufnr or M.source_buf()
  -- Where the user is, taken now: the turn may wait for the server to start while the user moves on.
  opts = vim.tbl_extend('force', opts, {
    from_chat = api.nvim_get_current_buf() == ui.chat_buf(),
    cursor = src and positions.cursor_of(src) or nil,
  })
  chat.busy = true
  client.when_ready(src, function(c, is_source)
    chat.busy = nil
    send_turn(c, message, is_source and src or nil, opts)
  end, { any = true, fail = function(message_text)
    chat.busy = nil
    util.notify(message_text, vim.log.levels.WARN)
  end })
end

--- The session id of the chat buffer's conversation, if any.
function M.session()
  return chat.session_id
end

--- The chat buffer's number, if it exists.
function M.buffer()
  return ui.chat_buf()
end

keymaps = {
  ['<CR>'] = function() M.chat(nil) end,
  ['q'] = function() vim.cmd('close') end,
  ['<C-c>'] = function() require('efrit.status').cancel({ sessionId = chat.session_id }) end,
}

return M
