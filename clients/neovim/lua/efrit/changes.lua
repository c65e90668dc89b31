-- efrit.changes: what a WorkspaceEdit does to each file, worked out in memory
-- without touching a buffer or a file: the review view shows it, and the
-- applyEdit handler checks it before anything lands.
--
-- A file's text before the change is its loaded buffer's (what Neovim's own
-- handler edits), else the file on disk; text edits are applied to it as
-- Neovim applies them to a buffer (sorted from the end, ties in reverse order).
local api = vim.api
local uv = vim.uv or vim.loop
local positions = require('efrit.positions')

local M = {}

--- Files larger than this are not read to show their diff (the change still applies).
M.max_file_bytes = 2 * 1024 * 1024

--- The loaded buffer of file `fname` (a full path), if any. Never creates one, unlike vim.uri_to_bufnr.
function M.loaded_buffer(fname)
  for _, buf in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(buf) and api.nvim_buf_get_name(buf) == fname then return buf end
  end
end

--- The text of a buffer as the server sees it (Neovim's didOpen/didChange text).
function M.buffer_text(buf)
  local text = table.concat(api.nvim_buf_get_lines(buf, 0, -1, true), '\n')
  if vim.bo[buf].eol then text = text .. '\n' end
  return text
end

--- The text of file `fname` on disk; nil and why when it cannot be read or is too large to show.
function M.file_text(fname)
  local stat = uv.fs_stat(fname)
  if not stat then return nil, 'not found on disk' end
  if stat.type ~= 'file' then return nil, 'not a file' end
  if stat.size > M.max_file_bytes then return nil, string.format('%d bytes, too large to show', stat.size) end
  local file, err = io.open(fname, 'rb')
  if not file then return nil, tostring(err) end
  local text = file:read('*a')
  file:close()
  return text
end

--- The text of `fname` before the change: its loaded buffer's, else the file's; nil and why when neither.
function M.current_text(fname)
  local buf = M.loaded_buffer(fname)
  if buf then return M.buffer_text(buf) end
  return M.file_text(fname)
end

--- `text` with the LSP TextEdits `edits` applied (positions in `encoding`).
function M.apply_text_edits(text, edits, encoding)
  local lines = vim.split(text, '\n', { plain = true })
  local starts, offset = {}, 0
  for i, line in ipairs(lines) do
    starts[i] = offset
    offset = offset + #line + 1
  end
  local function offset_of(pos)
    local row = pos.line + 1
    -- Past the last line: the end of the text, as Neovim does for a buffer.
    if row > #lines then return #text end
    local line = lines[row]:gsub('\r$', '')
    return starts[row] + positions.byte_col(line, pos.character, encoding)
  end
  local spans = {}
  for index, edit in ipairs(edits) do
    local a, b = offset_of(edit.range.start), offset_of(edit.range['end'])
    if b < a then a, b = b, a end
    table.insert(spans, { a = a, b = b, text = (edit.newText or ''):gsub('\r\n?', '\n'), index = index })
  end
  table.sort(spans, function(x, y)
    if x.a ~= y.a then return x.a > y.a end
    return x.index > y.index
  end)
  for _, span in ipairs(spans) do
    text = text:sub(1, span.a) .. span.text .. text:sub(span.b + 1)
  end
  return text
end

---@class EfritFileChange
---@field uri string       the file (for a rename, its name before)
---@field kind string      'edit' | 'create' | 'rename' | 'delete'
---@field new_uri string|nil   a rename's new name
---@field groups table[]   its TextEdit lists, in the order they apply
---@field version integer|nil  the document version its first text edits were made for (nil: the file on disk)

--- The files a WorkspaceEdit changes, in the order they first appear (EfritFileChange[]).
--- Text edits on a renamed file's new name belong to the rename.
function M.files_of(edit)
  local files, by_uri, renamed_to = {}, {}, {}
  local function file(uri, kind)
    local key = renamed_to[uri] or uri
    local f = by_uri[key]
    if not f then
      f = { uri = key, kind = kind, groups = {} }
      by_uri[key] = f
      table.insert(files, f)
    end
    return f
  end
  if type(edit.documentChanges) == 'table' then
    for _, change in ipairs(edit.documentChanges) do
      if change.kind == 'create' then
        file(change.uri, 'create').kind = 'create'
      elseif change.kind == 'rename' then
        local f = file(change.oldUri, 'rename')
        f.kind, f.new_uri = 'rename', change.newUri
        renamed_to[change.newUri] = f.uri
      elseif change.kind == 'delete' then
        file(change.uri, 'delete').kind = 'delete'
      elseif type(change.textDocument) == 'table' then
        local f = file(change.textDocument.uri, 'edit')
        if #f.groups == 0 and change.textDocument.version ~= vim.NIL then f.version = change.textDocument.version end
        table.insert(f.groups, change.edits or {})
      end
    end
  elseif type(edit.changes) == 'table' then
    local uris = vim.tbl_keys(edit.changes)
    table.sort(uris)
    for _, uri in ipairs(uris) do
      table.insert(file(uri, 'edit').groups, edit.changes[uri])
    end
  end
  return files
end

--- A file's text before and after the change; `before`/`after` nil with `unreadable` saying why
--- when its text cannot be shown. A deleted file, or a renamed one with no text edit, has neither.
function M.texts_of(file, encoding)
  if file.kind == 'delete' or (file.kind == 'rename' and #file.groups == 0) then return {} end
  local before, why
  if file.kind == 'create' then
    before = ''
  else
    before, why = M.current_text(vim.uri_to_fname(file.uri))
  end
  if not before then return { unreadable = why } end
  local after = before
  for _, edits in ipairs(file.groups) do
    after = M.apply_text_edits(after, edits, encoding)
  end
  return { before = before, after = after }
end

return M
