-- efrit.apply: the workspace/applyEdit handler of efrit's client. The edit
-- lands through Neovim's own vim.lsp.util.apply_workspace_edit, but only once
-- everything it does to files has been checked, so that a change that cannot
-- land whole is refused before anything is touched. Neovim 0.7's handler alone
-- would half-apply or misreport such a change: its create truncates a file that
-- exists (overwrite: false notwithstanding) and fails midway when the folder is
-- missing, its rename skips a target that exists yet reports success, and a
-- versioned edit for a buffer that changed since is skipped without a word.
--
-- A created file is written with its text, byte for byte. Files that were not
-- loaded in a buffer before the change are written once changed, as VS Code
-- saves the files a refactoring touched that were not open: no hidden buffer is
-- left holding unsaved text. A buffer the user has loaded keeps the change
-- unsaved, one undo step, like any other edit of theirs.
local api = vim.api
local uv = vim.uv or vim.loop
local changes = require('efrit.changes')
local util = require('efrit.util')

local M = {}

--- The path of `uri` as messages show it: relative to `root` (the server's) when inside it.
local function shown_path(uri, root)
  local fname = vim.uri_to_fname(uri)
  if root and fname:sub(1, #root + 1) == root .. '/' then return fname:sub(#root + 2) end
  return vim.fn.fnamemodify(fname, ':~:.')
end

--- Why `edit` cannot land whole, or nil. Walks its resource operations in order over a simulated
--- file system, so a create followed by an edit of the new file is fine.
function M.check(edit, root)
  local function path_of(uri) return shown_path(uri, root) end
  local exists = {}
  local function present(fname)
    if exists[fname] ~= nil then return exists[fname] end
    return uv.fs_stat(fname) ~= nil or changes.loaded_buffer(fname) ~= nil
  end
  local function text_edit_problem(uri, version)
    local fname = vim.uri_to_fname(uri)
    if not present(fname) then return string.format('cannot edit %s: it does not exist', path_of(uri)) end
    local buf = changes.loaded_buffer(fname)
    local versions = vim.lsp.util.buf_versions
    local current = buf and versions and versions[buf]
    if version ~= nil and version ~= vim.NIL and current and current > version then
      return string.format('%s changed in the editor since the edit was made (version %d, now %d)', path_of(uri), version, current)
    end
  end
  if type(edit.documentChanges) == 'table' then
    for _, change in ipairs(edit.documentChanges) do
      local opts = change.options or {}
      if change.kind == 'create' then
        local fname = vim.uri_to_fname(change.uri)
        if present(fname) and not opts.overwrite and not opts.ignoreIfExists then
          return string.format('cannot create %s: it already exists', path_of(change.uri))
        end
        exists[fname] = true
      elseif change.kind == 'rename' then
        local from, to = vim.uri_to_fname(change.oldUri), vim.uri_to_fname(change.newUri)
        if not present(from) then return string.format('cannot rename %s: it does not exist', path_of(change.oldUri)) end
        if present(to) and not opts.overwrite and not opts.ignoreIfExists then
          return string.format('cannot rename %s to %s: it already exists', path_of(change.oldUri), path_of(change.newUri))
        end
        exists[from], exists[to] = false, true
      elseif change.kind == 'delete' then
        local fname = vim.uri_to_fname(change.uri)
        if not present(fname) and not opts.ignoreIfNotExists then
          return string.format('cannot delete %s: it does not exist', path_of(change.uri))
        end
        exists[fname] = false
      elseif change.kind ~= nil then
        return 'unknown change kind ' .. tostring(change.kind)
      elseif type(change.textDocument) == 'table' then
        local problem = text_edit_problem(change.textDocument.uri, change.textDocument.version)
        if problem then return problem end
      end
    end
  elseif type(edit.changes) == 'table' then
    for uri in pairs(edit.changes) do
      local problem = text_edit_problem(uri, nil)
      if problem then return problem end
    end
  end
end

--- The files `edit` changes whose buffer is not loaded now (full paths, in order), and the folders
--- its new files need.
local function unloaded_targets(edit)
  local targets, seen, folders = {}, {}, {}
  local function add(uri)
    local fname = vim.uri_to_fname(uri)
    if not seen[fname] and not changes.loaded_buffer(fname) then
      seen[fname] = true
      table.insert(targets, fname)
    end
  end
  if type(edit.documentChanges) == 'table' then
    for _, change in ipairs(edit.documentChanges) do
      if change.kind == 'create' then
        add(change.uri)
        table.insert(folders, vim.fn.fnamemodify(vim.uri_to_fname(change.uri), ':h'))
      elseif change.kind == 'rename' then
        add(change.newUri)
        table.insert(folders, vim.fn.fnamemodify(vim.uri_to_fname(change.newUri), ':h'))
      elseif change.kind == nil and type(change.textDocument) == 'table' then
        add(change.textDocument.uri)
      end
    end
  elseif type(edit.changes) == 'table' then
    for uri in pairs(edit.changes) do add(uri) end
  end
  return targets, folders
end

--- Applies `edit` whole, or raises why not (before touching anything when the check finds it).
--- Returns the files written. `root`: the server's, for the paths messages show.
function M.apply(edit, encoding, root)
  local problem = M.check(edit, root)
  if problem then error(problem, 0) end
  local targets, folders = unloaded_targets(edit)
  for _, folder in ipairs(folders) do
    if vim.fn.isdirectory(folder) == 0 then vim.fn.mkdir(folder, 'p') end
  end
  local written = {}
  if type(edit.documentChanges) == 'table' then
    local ops = edit.documentChanges
    local i = 1
    while i <= #ops do
      local change = ops[i]
      local fname = change.kind == 'create' and vim.uri_to_fname(change.uri)
      if fname and (uv.fs_stat(fname) == nil or (change.options or {}).overwrite) then
        -- A new file and the text edits that fill it, right after its create, are written as one, byte for byte:
        -- through a buffer, Neovim would leave the empty line an empty buffer has at the end of the text.
        local text, j = '', i + 1
        while ops[j] and ops[j].kind == nil and type(ops[j].textDocument) == 'table' and ops[j].textDocument.uri == change.uri do
          text = changes.apply_text_edits(text, ops[j].edits or {}, encoding)
          j = j + 1
        end
        local file = assert(io.open(fname, 'wb'))
        file:write(text)
        file:close()
        table.insert(written, fname)
        i = j
      else
        -- One change at a time, so that Neovim checks the version of each (0.7 checks only the first).
        vim.lsp.util.apply_workspace_edit({ documentChanges = { change } }, encoding)
        i = i + 1
      end
    end
  else
    vim.lsp.util.apply_workspace_edit(edit, encoding)
  end
  for _, fname in ipairs(targets) do
    local buf = changes.loaded_buffer(fname)
    if buf and vim.bo[buf].modified then
      -- The change has landed: a file that cannot be written keeps it in its buffer, said so.
      local wrote, err = pcall(api.nvim_buf_call, buf, function() vim.cmd('silent write') end)
      if wrote then
        table.insert(written, fname)
      else
        util.notify(string.format('%s: changed in its buffer, but not written: %s', shown_path(vim.uri_from_fname(fname), root),
          tostring(err)), vim.log.levels.WARN)
      end
    end
  end
  return written
end

--- True when `edit` creates, renames or deletes a file.
local function has_file_operations(edit)
  if type(edit) ~= 'table' or type(edit.documentChanges) ~= 'table' then return false end
  for _, change in ipairs(edit.documentChanges) do
    if change.kind ~= nil then return true end
  end
  return false
end

--- vim.lsp.buf.code_action() applies a resolved action's edit with vim.lsp.util.apply_workspace_edit itself, never
--- through workspace/applyEdit. An efrit action whose edit creates, renames or deletes files ("Write tests" with a
--- test file of its own) lands here instead, checked whole like any other, and goes on to Neovim without its edit.
--- Installed on efrit's own client only (on_init).
function M.route_code_actions(client)
  local request = client.request
  client.request = function(...)
    local args = { n = select('#', ...), ... }
    -- From 0.11 client methods are called with a colon: the client comes first.
    local first = args[1] == client and 2 or 1
    local handler = args[first + 2]
    if args[first] == 'codeAction/resolve' and type(handler) == 'function' then
      args[first + 2] = function(err, action, ...)
        if not err and type(action) == 'table' and has_file_operations(action.edit) then
          local root = client.config and client.config.root_dir
          local ok, problem = pcall(M.apply, action.edit, client.offset_encoding or 'utf-16', root)
          if not ok then util.notify('not applied: ' .. tostring(problem), vim.log.levels.ERROR) end
          action = vim.tbl_extend('force', {}, action)
          action.edit = nil
        end
        return handler(err, action, ...)
      end
    end
    return request(unpack(args, 1, args.n))
  end
end

--- The workspace/applyEdit handler (see the top of this file). Answers { applied, failureReason? }.
function M.handler(_, params, ctx)
  if type(params) ~= 'table' or type(params.edit) ~= 'table' then
    return { applied = false, failureReason = 'the request carries no edit' }
  end
  local client = ctx and vim.lsp.get_client_by_id(ctx.client_id)
  local root = client and client.config and client.config.root_dir
  local ok, err = pcall(M.apply, params.edit, client and client.offset_encoding or 'utf-16', root)
  if not ok then return { applied = false, failureReason = tostring(err) } end
  return { applied = true }
end

return M
