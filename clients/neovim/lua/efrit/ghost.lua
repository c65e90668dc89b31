-- efrit.ghost: ghost text (textDocument/inlineCompletion).
--
-- Neovim 0.12+ shows inline completions itself (vim.lsp.inline_completion).
-- Elsewhere the plugin does: after a pause in typing (or at once with
-- complete()), it asks the server and shows the first suggestion as virtual
-- text at the cursor, in its own namespace. Only the latest request counts,
-- and an answer is dropped if the buffer changed or the cursor moved meanwhile.
local api = vim.api
local uv = vim.uv or vim.loop
local client = require('efrit.client')
local config = require('efrit.config')
local positions = require('efrit.positions')
local rpc = require('efrit.rpc')
local util = require('efrit.util')

local M = {}
local has, buf_line = util.has, positions.buf_line
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
function M.native()
  local inline = vim.lsp.inline_completion
  return config.values.ghost_text.native ~= false and inline ~= nil and type(inline.enable) == 'function'
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
  -- Before 0.10 virtual text cannot sit between characters ('overlay' would hide them), so it shows only
  -- at the end of the line, as 'overlay' at the cursor's column: 'eol' text starts one cell further right,
  -- where <Tab> would not insert it.
  local inline = has('nvim-0.10')
  if col < #line and not inline then return false end
  local tab = string.rep(' ', vim.bo[bufnr].tabstop)
  local function chunk(s) return { { (s:gsub('\t', tab)), 'EfritGhost' } } end
  local opts = { virt_text = chunk(lines[1]), virt_text_pos = inline and 'inline' or 'overlay', hl_mode = 'combine' }
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
local function ghost_request_with(c, bufnr, trigger)
  local cursor = positions.cursor_of(bufnr)
  if not cursor then return end
  local row, col = cursor[1] - 1, cursor[2]
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local at = positions.position(bufnr, row, col, positions.encoding_of(c))
  ghost.seq = ghost.seq + 1
  local seq = ghost.seq
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = at, context = { triggerKind = trigger } }
  rpc.send(c, bufnr, 'textDocument/inlineCompletion', params, 'ghost', nil, nil, function(err, result)
    if seq ~= ghost.seq then return end
    if err then
      if trigger == 1 and util.error_reason(err) ~= 'cancelled' then util.notify(util.error_text(err), vim.log.levels.WARN) end
      return
    end
    -- Stale: the user typed or moved meanwhile.
    if not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr then return end
    local now = positions.cursor_of(bufnr)
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
        if ghost_show(bufnr, row, col, text, command, c.id) then return end
      end
    end
  end)
end

--- Asks for a suggestion at the cursor of `bufnr`: explicitly (1) once the server is ready,
--- automatically (2) only when it is, quietly.
local function ghost_request(bufnr, trigger)
  if trigger == 1 then
    client.when_ready(bufnr, function(c) ghost_request_with(c, bufnr, trigger) end)
    return
  end
  local c = client.get(bufnr)
  if c then ghost_request_with(c, bufnr, trigger) end
end

local function ghost_arm(bufnr)
  local c = config.values
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
function M.attach(bufnr)
  bufnr = util.buf(bufnr)
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
  local key = config.values.ghost_text.accept_key
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
  bufnr = util.buf(bufnr)
  M.attach(bufnr)
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
    if M.native() and type(inline.get) == 'function' then return inline.get() and true or false end
    return false
  end
  local g = ghost.shown
  ghost_reset()
  local lines = vim.split(g.text, '\n', { plain = true })
  api.nvim_buf_set_text(g.buf, g.row, g.col, g.row, g.col, lines)
  local end_row = g.row + #lines - 1
  local end_col = (#lines == 1 and g.col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  local c = vim.lsp.get_client_by_id(g.client_id)
  if g.command and g.command.command and c then
    local params = { command = g.command.command, arguments = g.command.arguments }
    rpc.send(c, g.buf, 'workspace/executeCommand', params, 'ghost', nil, nil, function(err)
      if err and util.error_reason(err) ~= 'cancelled' then util.notify(util.error_text(err), vim.log.levels.WARN) end
    end)
  end
  return true
end


--- A client attached to `bufnr`: ghost text there, Neovim's own (0.12+) or the plugin's.
function M.on_attach(c, bufnr)
  if not config.values.inline_completion then return end
  if M.native() then
    pcall(vim.lsp.inline_completion.enable, true, { bufnr = bufnr, client_id = c.id })
  else
    M.attach(bufnr)
  end
end

return M
