-- efrit.positions: LSP positions and ranges from buffers, cursors and command ranges,
-- in the client's offset encoding (columns are bytes in Neovim, UTF-16 units by default in LSP).
local api = vim.api
local has = require('efrit.util').has

local M = {}

local function char_index(line, byte_col, encoding)
  byte_col = math.max(0, math.min(byte_col, #line))
  if encoding == 'utf-8' then return byte_col end
  if has('nvim-0.11') then return vim.str_utfindex(line, encoding or 'utf-16', byte_col, false) end
  local ok, utf32, utf16 = pcall(vim.str_utfindex, line, byte_col)
  if not ok then return byte_col end
  return encoding == 'utf-32' and utf32 or utf16
end

--- The byte column of LSP character `character` in `line` (clamped to the line's end).
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then return math.min(character, #line) end
  local ok, col
  if has('nvim-0.11') then
    ok, col = pcall(vim.str_byteindex, line, encoding or 'utf-16', character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding ~= 'utf-32')
  end
  if not ok then return #line end
  return math.min(col, #line)
end

function M.buf_line(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

function M.position(bufnr, row, byte_col, encoding)
  return { line = row, character = char_index(M.buf_line(bufnr, row), byte_col, encoding) }
end

function M.encoding_of(client)
  return client and client.offset_encoding or 'utf-16'
end

--- The range a command was given: the visual selection when the command was
--- run on it (characterwise if it was), whole lines otherwise.
--- @param opts table { line1, line2, range } as user commands get them
function M.command_range(bufnr, opts, encoding)
  if not opts or (opts.range or 0) == 0 then return nil end
  local l1, l2 = opts.line1 - 1, opts.line2 - 1
  local vs, ve = api.nvim_buf_get_mark(bufnr, '<'), api.nvim_buf_get_mark(bufnr, '>')
  if opts.range == 2 and vim.fn.visualmode() == 'v' and vs[1] - 1 == l1 and ve[1] - 1 == l2 then
    local last = M.buf_line(bufnr, l2)
    local end_col = math.min(ve[2], #last)
    -- '> is on the last selected character: include all of its bytes.
    if end_col < #last then end_col = end_col + #vim.fn.strcharpart(last:sub(end_col + 1), 0, 1) end
    return { start = M.position(bufnr, l1, vs[2], encoding), ['end'] = M.position(bufnr, l2, end_col, encoding) }
  end
  return { start = { line = l1, character = 0 }, ['end'] = M.position(bufnr, l2, #M.buf_line(bufnr, l2), encoding) }
end

--- The cursor in `bufnr`: in the current window if it shows it, else in one that does.
function M.cursor_of(bufnr)
  local win = api.nvim_get_current_win()
  if api.nvim_win_get_buf(win) ~= bufnr then
    for _, w in ipairs(api.nvim_tabpage_list_wins(0)) do
      if api.nvim_win_get_buf(w) == bufnr then win = w end
    end
  end
  if api.nvim_win_get_buf(win) ~= bufnr then return nil end
  return api.nvim_win_get_cursor(win)
end

function M.cursor_range(bufnr, encoding)
  local cursor = M.cursor_of(bufnr)
  if not cursor then return nil end
  local p = M.position(bufnr, cursor[1] - 1, cursor[2], encoding)
  return { start = p, ['end'] = p }
end

function M.line_range(bufnr, row, encoding)
  return { start = { line = row, character = 0 }, ['end'] = M.position(bufnr, row, #M.buf_line(bufnr, row), encoding) }
end

function M.describe_range(bufnr, range)
  local name = vim.fn.fnamemodify(api.nvim_buf_get_name(bufnr), ':~:.')
  if not range then return name end
  local a, b = range.start.line + 1, range['end'].line + 1
  if a == b then return string.format('%s:%d', name, a) end
  return string.format('%s:%d-%d', name, a, b)
end

return M
