-- efrit.review: the review view of a change :EfritDo proposes, before it lands.
--
-- :EfritDo asks with `apply: false`, so the server sends the change back in
-- the answer instead of applying it (Neovim 0.7 answers a server's request
-- synchronously, so it could not show the change while the server waits).
-- The view is a scratch `diff` buffer: the summary, the keys, and a unified
-- diff per file, worked out in memory (efrit.changes). Accepting sends
-- `efrit.applyJob { jobId, exclude }`: the server re-checks the change against
-- what changed since and sends it as workspace/applyEdit, which efrit.apply
-- lands. Rejecting sends `efrit.rejectJob { jobId }` and touches nothing.
local api = vim.api
local changes = require('efrit.changes')
local config = require('efrit.config')
local rpc = require('efrit.rpc')
local util = require('efrit.util')

local M = {}

local ns = api.nvim_create_namespace('efrit_review')

--- Open reviews, by job id.
local reviews = {}
--- How many reviews were opened: their order, for M.current().
local opened = 0

--- The keys of the view: setup({ review = { keys = {...} } }) renames them (false: none).
M.default_keys = {
  accept = 'a',
  reject = 'r',
  toggle_file = 'x',
  next_file = ']f',
  previous_file = '[f',
  close = 'q',
}

local function keys()
  return vim.tbl_extend('force', M.default_keys, (config.values.review or {}).keys or {})
end

--- The line of keys at the top of the view.
local function keys_line()
  local k = keys()
  local parts = {}
  local function add(lhs, what)
    if lhs then table.insert(parts, lhs .. ' ' .. what) end
  end
  add(k.accept, 'accept')
  add(k.toggle_file, 'reject/restore the file under the cursor')
  add(k.reject, 'reject all')
  if k.next_file and k.previous_file then add(k.next_file .. ' ' .. k.previous_file, 'next/previous file') end
  add(k.close, 'reject all and close')
  return table.concat(parts, ' · ')
end

local function plural(n, one, many)
  return string.format('%d %s', n, n == 1 and one or many)
end

local function status_line(review)
  if review.state == 'applying' then return 'applying…' end
  local rejected = 0
  for _, f in ipairs(review.files) do
    if f.rejected then rejected = rejected + 1 end
  end
  local line = plural(#review.files, 'file', 'files')
  if rejected > 0 then line = line .. string.format(': %d rejected, %d to apply', rejected, #review.files - rejected) end
  if review.error then line = line .. ' — not applied: ' .. review.error end
  return line
end

--- The diff lines of one file (computed once, when the view opens).
local function diff_lines(file, encoding)
  local lines = {}
  local a, b = file.path, file.new_path or file.path
  if file.kind == 'create' then
    vim.list_extend(lines, { 'new file', '--- /dev/null', '+++ b/' .. b })
  elseif file.kind == 'delete' then
    vim.list_extend(lines, { 'deleted file', '--- a/' .. a, '+++ /dev/null' })
  elseif file.kind == 'rename' then
    vim.list_extend(lines, { 'rename from ' .. a, 'rename to ' .. b })
  end
  local texts = changes.texts_of(file, encoding)
  if texts.unreadable then
    table.insert(lines, '# cannot show its diff: ' .. texts.unreadable)
    return lines
  end
  if not texts.before then return lines end
  if file.kind == 'edit' or file.kind == 'rename' then
    vim.list_extend(lines, { '--- a/' .. a, '+++ b/' .. b })
    local buf = changes.loaded_buffer(vim.uri_to_fname(file.uri))
    if file.version == nil and buf and vim.bo[buf].modified then
      table.insert(lines, '# its buffer has unsaved changes efrit did not see; the edit applies to the buffer')
    end
  end
  local hunks = vim.diff(texts.before, texts.after, { result_type = 'unified', ctxlen = 3 })
  if hunks == '' then
    table.insert(lines, '# no change to its text')
  else
    vim.list_extend(lines, vim.split((hunks:gsub('\n$', '')), '\n', { plain = true }))
  end
  return lines
end

local function render(review)
  if not api.nvim_buf_is_valid(review.buf) then return end
  local lines = { 'Efrit: ' .. review.summary, keys_line(), status_line(review), '' }
  for _, f in ipairs(review.files) do
    f.first_row = #lines + 1
    table.insert(lines, string.format('diff --git a/%s b/%s', f.path, f.new_path or f.path))
    if f.rejected then table.insert(lines, '# rejected: it will not be applied') end
    vim.list_extend(lines, f.diff)
    f.last_row = #lines
    table.insert(lines, '')
  end
  vim.bo[review.buf].modifiable = true
  api.nvim_buf_set_lines(review.buf, 0, -1, false, lines)
  vim.bo[review.buf].modifiable = false
  vim.bo[review.buf].modified = false
  api.nvim_buf_clear_namespace(review.buf, ns, 0, -1)
  for _, f in ipairs(review.files) do
    if f.rejected then
      api.nvim_buf_set_extmark(review.buf, ns, f.first_row - 1, 0,
        { end_row = f.last_row, hl_group = 'EfritReviewRejected', hl_eol = true, priority = 200 })
    end
  end
end

local function file_at(review, row)
  for _, f in ipairs(review.files) do
    if row >= f.first_row and row <= f.last_row + 1 then return f end
  end
end

--- Closes the view's windows and wipes its buffer.
local function close(review)
  reviews[review.job_id] = nil
  local buf = review.buf
  if not api.nvim_buf_is_valid(buf) then return end
  for _, win in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_is_valid(win) and api.nvim_win_get_buf(win) == buf then
      -- The last window of all cannot close: it shows the file the change was asked about instead.
      if not pcall(api.nvim_win_close, win, true) and review.source_buf and api.nvim_buf_is_valid(review.source_buf) then
        api.nvim_win_set_buf(win, review.source_buf)
      end
    end
  end
  if api.nvim_buf_is_valid(buf) then pcall(api.nvim_buf_delete, buf, { force = true }) end
end

local function client_of(review)
  local c = vim.lsp.get_client_by_id(review.client_id)
  if c and not (c.is_stopped and util.call(c, 'is_stopped')) then return c end
end

--- Rejects the whole change: the server is told (the session's next turn says so), nothing is touched.
function M.reject(review, message)
  if review.state ~= 'open' then return end
  review.state = 'rejected'
  local c = client_of(review)
  if c then
    local params = { command = 'efrit.rejectJob', arguments = { { jobId = review.job_id } } }
    util.call(c, 'request', 'workspace/executeCommand', params, function(err)
      if err then util.notify('could not tell the server the change was rejected: ' .. util.error_text(err), vim.log.levels.WARN) end
    end, review.source_buf)
  end
  close(review)
  util.notify(message or ('rejected: ' .. review.summary))
  util.fire('EfritReviewDone', { jobId = review.job_id, accepted = false })
end

--- Accepts the change, but for the files rejected one by one.
function M.accept(review)
  if review.state ~= 'open' then return end
  local exclude, skipped = {}, {}
  for _, f in ipairs(review.files) do
    if f.rejected then
      table.insert(exclude, f.uri)
      table.insert(skipped, f.path)
    end
  end
  if #exclude == #review.files then return M.reject(review, 'every file was rejected: nothing was applied') end
  local c = client_of(review)
  if not c then
    review.error = 'the efrit-lsp server stopped'
    render(review)
    return util.notify('the efrit-lsp server stopped; nothing was applied', vim.log.levels.ERROR)
  end
  review.state = 'applying'
  review.error = nil
  render(review)
  local args = { jobId = review.job_id }
  if #exclude > 0 then args.exclude = exclude end
  local sent = rpc.send(c, review.source_buf, 'workspace/executeCommand', { command = 'efrit.applyJob', arguments = { args } }, 'do', nil,
    review.session_id, function(err, result)
      if err or (type(result) == 'table' and result.applied == false) then
        -- Nothing was applied: the view stays, to accept again or reject.
        review.state = 'open'
        review.error = err and util.error_text(err) or 'the editor did not apply it'
        render(review)
        util.notify('not applied: ' .. review.error, vim.log.levels.ERROR)
        util.fire('EfritReviewDone', { jobId = review.job_id, accepted = false, error = review.error })
        -- The view was closed while the change was being applied: nothing left to accept it from.
        if not api.nvim_buf_is_valid(review.buf) then M.reject(review, 'the change was not applied, and its view is closed') end
        return
      end
      review.state = 'applied'
      close(review)
      local note = #skipped > 0 and (' (not ' .. table.concat(skipped, ', ') .. ')') or ''
      util.notify('applied: ' .. review.summary .. note)
      util.fire('EfritReviewDone', { jobId = review.job_id, accepted = true })
    end)
  if not sent then
    review.state = 'open'
    render(review)
  end
end

--- Rejects or restores the file under the cursor.
function M.toggle_file(review)
  if review.state ~= 'open' then return end
  local f = file_at(review, api.nvim_win_get_cursor(0)[1])
  if not f then return util.notify('put the cursor on a file of the change to reject or restore it', vim.log.levels.WARN) end
  f.rejected = not f.rejected
  render(review)
  api.nvim_win_set_cursor(0, { f.first_row, 0 })
end

local function jump(review, step)
  local row = api.nvim_win_get_cursor(0)[1]
  local current = file_at(review, row)
  local index = 0
  for i, f in ipairs(review.files) do
    if f == current then index = i end
  end
  if index == 0 then index = step > 0 and 0 or #review.files + 1 end
  local target = review.files[index + step]
  if target then api.nvim_win_set_cursor(0, { target.first_row, 0 }) end
end

local function map_keys(review)
  local k = keys()
  local actions = {
    accept = function() M.accept(review) end,
    reject = function() M.reject(review) end,
    close = function() M.reject(review) end,
    toggle_file = function() M.toggle_file(review) end,
    next_file = function() jump(review, 1) end,
    previous_file = function() jump(review, -1) end,
  }
  local descriptions = {
    accept = 'Efrit: apply the change (but the files rejected)',
    reject = 'Efrit: reject the whole change',
    close = 'Efrit: reject the whole change and close',
    toggle_file = 'Efrit: reject or restore the file under the cursor',
    next_file = 'Efrit: next file of the change',
    previous_file = 'Efrit: previous file of the change',
  }
  for name, fn in pairs(actions) do
    if k[name] then vim.keymap.set('n', k[name], fn, { buffer = review.buf, nowait = true, silent = true, desc = descriptions[name] }) end
  end
end

local function open_window(buf)
  local position = (config.values.review or {}).position or 'tab'
  if position == 'bottom' then
    vim.cmd('botright sbuffer ' .. buf)
  elseif position == 'right' then
    vim.cmd('vertical botright sbuffer ' .. buf)
  else
    vim.cmd('tab sbuffer ' .. buf)
  end
end

--- The path shown for `uri`: relative to the server's root when inside it.
local function display_path(uri, root)
  local fname = vim.uri_to_fname(uri)
  if root and fname:sub(1, #root + 1) == root .. '/' then return fname:sub(#root + 2) end
  return vim.fn.fnamemodify(fname, ':~:.')
end

--- Opens the review view of an efrit/do answer whose `edit` was not applied.
--- ctx: { client, bufnr (the file the change was asked about) }. Returns the review.
function M.open(result, ctx)
  pcall(vim.cmd, 'highlight default link EfritReviewRejected Comment')
  local encoding = ctx.client.offset_encoding or 'utf-16'
  local root = ctx.client.config and ctx.client.config.root_dir
  local described = {}
  for _, f in ipairs(type(result.files) == 'table' and result.files or {}) do
    if type(f) == 'table' and f.uri then described[f.uri] = f end
  end
  local files = changes.files_of(result.edit)
  -- In the order the answer lists them (the edit's own order otherwise).
  local rank = {}
  for i, f in ipairs(type(result.files) == 'table' and result.files or {}) do
    if type(f) == 'table' and f.uri and not rank[f.uri] then rank[f.uri] = i end
  end
  for i, f in ipairs(files) do f.index = i end
  table.sort(files, function(x, y)
    local rx, ry = rank[x.uri] or math.huge, rank[y.uri] or math.huge
    if rx ~= ry then return rx < ry end
    return x.index < y.index
  end)
  for _, f in ipairs(files) do
    local about = described[f.uri] or {}
    f.path = about.path or display_path(f.uri, root)
    if f.new_uri then f.new_path = about.newPath or display_path(f.new_uri, root) end
    f.diff = diff_lines(f, encoding)
  end
  local summary = (result.summary and result.summary ~= '') and result.summary or '(no summary)'
  local review = {
    job_id = result.jobId, session_id = result.sessionId, client_id = ctx.client.id, source_buf = ctx.bufnr,
    summary = summary, files = files, state = 'open',
  }
  local earlier = reviews[review.job_id]
  if earlier then
    -- The same job shown again: the newer view replaces the older, with no verdict on the change.
    earlier.state = 'replaced'
    close(earlier)
  end
  opened = opened + 1
  review.opened = opened
  review.buf = api.nvim_create_buf(false, true)
  -- buftype first: the FileType autocmd must see a scratch buffer, not a file to attach to.
  vim.bo[review.buf].buftype = 'nofile'
  vim.bo[review.buf].bufhidden = 'wipe'
  vim.bo[review.buf].swapfile = false
  pcall(api.nvim_buf_set_name, review.buf, 'efrit://review/' .. tostring(review.job_id))
  vim.bo[review.buf].filetype = 'diff'
  reviews[review.job_id] = review
  render(review)
  map_keys(review)
  -- Closed some other way (:q, :bwipeout): rejected, so the server and the session know.
  api.nvim_create_autocmd('BufWipeout', {
    buffer = review.buf,
    once = true,
    callback = function()
      if review.state == 'open' then vim.schedule(function() M.reject(review) end) end
    end,
  })
  open_window(review.buf)
  if files[1] then api.nvim_win_set_cursor(0, { files[1].first_row, 0 }) end
  util.notify(string.format('review the change (%s): %s', plural(#files, 'file', 'files'), keys_line()))
  return review
end

--- The open review shown in the current buffer, else the latest one opened; nil when none is open.
function M.current()
  local buf = api.nvim_get_current_buf()
  local latest
  for _, review in pairs(reviews) do
    if review.buf == buf then return review end
    if not latest or review.opened > latest.opened then latest = review end
  end
  return latest
end

return M
