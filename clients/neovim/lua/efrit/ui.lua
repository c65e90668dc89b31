-- efrit.ui: the chat buffer and the explain float.
--
-- The chat buffer is a scratch, read-only markdown buffer made of entries
-- (a user turn, a streamed reply, an explanation). Only this module writes to
-- it, so each entry's first row is known from the lengths of the entries
-- before it; a streaming entry re-renders itself and whatever follows it.
local api = vim.api

local M = {}

local CHAT_NAME = 'efrit://chat'

---@class EfritChatEntry
---@field header string[]   lines above the body
---@field text string       the body (streamed text)
---@field placeholder string|nil shown while the body is empty
---@field footer string|nil shown under the body (status, errors)
---@field lines string[]|nil last rendering

local chat = {
  buf = nil, ---@type integer|nil
  entries = {}, ---@type EfritChatEntry[]
}

M.chat_options = { position = 'right', size = nil }

local function set_lines(buf, first, last, lines)
  vim.bo[buf].modifiable = true
  api.nvim_buf_set_lines(buf, first, last, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
end

local function render(entry)
  local lines = vim.list_extend({}, entry.header)
  if entry.text == '' then
    if entry.placeholder then table.insert(lines, entry.placeholder) end -- false: none
  else
    vim.list_extend(lines, vim.split(entry.text, '\n', { plain = true }))
  end
  if entry.footer then
    if lines[#lines] ~= '' then table.insert(lines, '') end
    table.insert(lines, entry.footer)
  end
  table.insert(lines, '')
  return lines
end

local function chat_valid()
  return chat.buf ~= nil and api.nvim_buf_is_valid(chat.buf)
end

--- Re-renders entry `index` and every entry after it.
local function redraw_from(index)
  if not chat_valid() then return end
  local row = 0
  for i = 1, index - 1 do
    row = row + #(chat.entries[i].lines or {})
  end
  local lines = {}
  for i = index, #chat.entries do
    local entry = chat.entries[i]
    entry.lines = render(entry)
    vim.list_extend(lines, entry.lines)
  end
  if row > api.nvim_buf_line_count(chat.buf) then row = 0 end -- someone edited it: start over
  if row == 0 then
    lines = {}
    for _, entry in ipairs(chat.entries) do
      entry.lines = entry.lines or render(entry)
      vim.list_extend(lines, entry.lines)
    end
  end
  set_lines(chat.buf, row, -1, lines)
  -- Follow the end in every window that shows the chat, unless the user scrolled up in the current one.
  local last = api.nvim_buf_line_count(chat.buf)
  for _, win in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_get_buf(win) == chat.buf then
      local cursor = api.nvim_win_get_cursor(win)[1]
      if win ~= api.nvim_get_current_win() or cursor >= row then
        api.nvim_win_set_cursor(win, { last, 0 })
      end
    end
  end
end

local function index_of(entry)
  for i, e in ipairs(chat.entries) do
    if e == entry then return i end
  end
end

--- The chat buffer, created on first use.
---@param keymaps table<string, function> buffer-local normal-mode mappings
function M.chat_buffer(keymaps)
  if chat_valid() then return chat.buf end
  local buf = api.nvim_create_buf(false, true)
  -- buftype first: the FileType autocmd below must see a scratch buffer, not a file to attach to.
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  pcall(api.nvim_buf_set_name, buf, CHAT_NAME)
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].modifiable = false
  for lhs, fn in pairs(keymaps or {}) do
    vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true, silent = true })
  end
  chat.buf = buf
  chat.entries = {}
  return buf
end

function M.chat_buf()
  return chat_valid() and chat.buf or nil
end

--- Shows the chat buffer in a split (reusing a window that already shows it).
---@param focus boolean move the cursor into the chat window
function M.open_chat(keymaps, focus)
  local buf = M.chat_buffer(keymaps)
  local win
  for _, w in ipairs(api.nvim_tabpage_list_wins(0)) do
    if api.nvim_win_get_buf(w) == buf then win = w end
  end
  if not win then
    local previous = api.nvim_get_current_win()
    local opts = M.chat_options
    if opts.position == 'bottom' then
      vim.cmd(string.format('botright %ssplit', opts.size or ''))
    elseif opts.position == 'left' then
      vim.cmd(string.format('topleft %svsplit', opts.size or ''))
    else
      vim.cmd(string.format('botright %svsplit', opts.size or ''))
    end
    win = api.nvim_get_current_win()
    api.nvim_win_set_buf(win, buf)
    vim.wo[win].wrap = true
    vim.wo[win].linebreak = true
    vim.wo[win].number = false
    vim.wo[win].relativenumber = false
    if not focus and api.nvim_win_is_valid(previous) then api.nvim_set_current_win(previous) end
  elseif focus then
    api.nvim_set_current_win(win)
  end
  local last = api.nvim_buf_line_count(buf)
  api.nvim_win_set_cursor(win, { last, 0 })
  return buf, win
end

--- Appends an entry to the chat buffer and returns it.
---@param entry EfritChatEntry
function M.append(entry)
  if not chat_valid() then return entry end
  entry.text = entry.text or ''
  table.insert(chat.entries, entry)
  redraw_from(#chat.entries)
  return entry
end

--- Changes an entry (text, footer, placeholder) and redraws it.
function M.update(entry, changes)
  for k, v in pairs(changes) do
    entry[k] = v
  end
  local i = index_of(entry)
  if i then redraw_from(i) end
end

--- Empties the chat buffer (a new conversation).
function M.clear()
  chat.entries = {}
  if chat_valid() then set_lines(chat.buf, 0, -1, {}) end
end

--- The text of the chat buffer, for tests and for users' own mappings.
function M.chat_text()
  if not chat_valid() then return '' end
  return table.concat(api.nvim_buf_get_lines(chat.buf, 0, -1, false), '\n')
end

-- The explain float --------------------------------------------------------

---@class EfritFloat
---@field buf integer
---@field win integer|nil
---@field text string
---@field title string
---@field footer string|nil

local function float_lines(f)
  local lines = { f.title, '' }
  if f.text == '' then
    table.insert(lines, '…')
  else
    vim.list_extend(lines, vim.split(f.text, '\n', { plain = true }))
  end
  if f.footer then
    table.insert(lines, '')
    table.insert(lines, f.footer)
  end
  return lines
end

local function float_size(lines)
  local width = 20
  for _, line in ipairs(lines) do
    width = math.max(width, vim.fn.strdisplaywidth(line))
  end
  width = math.min(width, math.max(20, math.floor(vim.o.columns * 0.8)))
  local height = 0
  for _, line in ipairs(lines) do
    height = height + math.max(1, math.ceil(vim.fn.strdisplaywidth(line) / width))
  end
  height = math.min(height, math.max(3, math.floor(vim.o.lines * 0.6)))
  return width, height
end

--- The keys that close the float, in it and in the source buffer while it shows.
local close_keys = { 'q', '<Esc>' }

--- The float on screen, if any.
local current_float

--- Maps `close_keys` in `buf` to `close` (buffer-local, Normal mode) and returns what undoes it:
--- the buffer's own mappings of those keys come back as they were.
local function map_close_keys(buf, close)
  local saved = {}
  for _, m in ipairs(api.nvim_buf_get_keymap(buf, 'n')) do
    for _, lhs in ipairs(close_keys) do
      if vim.fn.toupper(m.lhs) == vim.fn.toupper(lhs) then saved[lhs] = m end
    end
  end
  for _, lhs in ipairs(close_keys) do
    vim.keymap.set('n', lhs, close, { buffer = buf, nowait = true, silent = true, desc = 'Efrit: close the explanation' })
  end
  return function()
    if not api.nvim_buf_is_valid(buf) then return end
    for _, lhs in ipairs(close_keys) do
      pcall(api.nvim_buf_del_keymap, buf, 'n', lhs)
      local m = saved[lhs]
      if m then
        pcall(api.nvim_buf_set_keymap, buf, 'n', lhs, m.rhs or '', {
          callback = m.callback, expr = m.expr == 1, noremap = m.noremap == 1,
          nowait = m.nowait == 1, silent = m.silent == 1, desc = m.desc,
        })
      end
    end
  end
end

--- Opens a float at the cursor that streamed text can be written into. It closes on `q`/`<Esc>`,
--- inside it and in the source buffer (mapped there while it shows: `q` would start a macro), or
--- when the cursor moves in the source buffer.
---@return EfritFloat
function M.open_float(title)
  -- One at a time: the newer replaces the older, whose keys in the source buffer are given back first.
  if current_float then current_float.close() end
  local f = { text = '', title = title }
  current_float = f
  local source = api.nvim_get_current_buf()
  f.buf = api.nvim_create_buf(false, true)
  vim.bo[f.buf].buftype = 'nofile'
  vim.bo[f.buf].bufhidden = 'wipe'
  vim.bo[f.buf].filetype = 'markdown'
  local lines = float_lines(f)
  set_lines(f.buf, 0, -1, lines)
  local width, height = float_size(lines)
  f.win = api.nvim_open_win(f.buf, false, {
    relative = 'cursor', row = 1, col = 0, width = width, height = height,
    style = 'minimal', border = 'rounded',
  })
  vim.wo[f.win].wrap = true
  vim.wo[f.win].linebreak = true
  local group = api.nvim_create_augroup('efrit_float_' .. f.buf, { clear = true })
  local unmap_source
  local function close()
    local win = f.win
    f.win = nil
    if current_float == f then current_float = nil end
    if unmap_source then
      unmap_source()
      unmap_source = nil
    end
    pcall(api.nvim_del_augroup_by_id, group)
    if win and api.nvim_win_is_valid(win) then api.nvim_win_close(win, true) end
  end
  f.close = close
  for _, lhs in ipairs(close_keys) do
    vim.keymap.set('n', lhs, close, { buffer = f.buf, nowait = true, silent = true })
  end
  unmap_source = map_close_keys(source, close)
  -- Closed some other way (:close in it, <C-w>o): the source buffer's keys are given back all the same.
  api.nvim_create_autocmd('WinClosed', {
    group = group,
    pattern = tostring(f.win),
    callback = function() vim.schedule(close) end,
  })
  -- Deferred so that the cursor movement of the command itself does not close it.
  vim.schedule(function()
    if not f.win or not api.nvim_buf_is_valid(source) then return end
    api.nvim_create_autocmd({ 'CursorMoved', 'CursorMovedI', 'InsertEnter', 'BufLeave' }, {
      group = group,
      buffer = source,
      callback = function()
        -- Entering the float (to scroll it) leaves the source buffer: keep it open then.
        if f.win and api.nvim_get_current_win() == f.win then return end
        close()
        return true
      end,
    })
  end)
  return f
end

function M.update_float(f, changes)
  for k, v in pairs(changes) do
    f[k] = v
  end
  if not api.nvim_buf_is_valid(f.buf) then return end
  local lines = float_lines(f)
  set_lines(f.buf, 0, -1, lines)
  if f.win and api.nvim_win_is_valid(f.win) then
    local width, height = float_size(lines)
    api.nvim_win_set_config(f.win, { width = width, height = height })
  end
end

return M
