-- The Neovim client's workspace/applyEdit handler (efrit.apply) and its diff
-- preview (efrit.changes), headless, with no server: each case hands the
-- handler a WorkspaceEdit as the server sends it (decoded from JSON as
-- Neovim's RPC layer decodes it: null is nil) over a folder of its own, and
-- records what landed on disk and in buffers. Neovim 0.7's own handler would
-- truncate a file a create names, skip a rename onto a file that exists, and
-- skip an edit for a buffer changed since, each time answering `applied`.
--   EFRIT_TEST_RTP=clients/neovim EFRIT_TEST_PROJECT=/tmp/x \
--   nvim --headless -u NONE -i NONE -c 'luafile test/clients/neovim/efrit-apply-test.lua'
-- EFRIT_TEST_HANDLER=neovim runs the cases through Neovim's own handler instead (to see what it does).
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local case, result = support.case, support.result

local function main()
  local api = vim.api
  support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_PROJECT' })
  local apply = require('efrit.apply')
  local changes = require('efrit.changes')
  local handler = apply.handler
  if vim.env.EFRIT_TEST_HANDLER == 'neovim' then
    handler = function(err, params)
      local ok, e = pcall(vim.lsp.util.apply_workspace_edit, params.edit, 'utf-16')
      return { applied = ok, failureReason = not ok and tostring(e) or nil }
    end
  end

  local function write(path, text)
    vim.fn.mkdir(vim.fn.fnamemodify(path, ':h'), 'p')
    local file = assert(io.open(path, 'wb'))
    file:write(text)
    file:close()
  end
  local function read(path)
    local file = io.open(path, 'rb')
    if not file then return vim.NIL end
    local text = file:read('*a')
    file:close()
    return text
  end
  local function loaded(path)
    return changes.loaded_buffer(path) ~= nil
  end

  --- A fresh folder for a case, holding `files` ({ [relative path] = text }), as Neovim's cwd.
  local function folder(name, files)
    local dir = vim.env.EFRIT_TEST_PROJECT .. '/' .. name
    vim.fn.mkdir(dir, 'p')
    for path, text in pairs(files) do write(dir .. '/' .. path, text) end
    vim.cmd('cd ' .. vim.fn.fnameescape(dir))
    return dir
  end
  local function uri(dir, path) return vim.uri_from_fname(dir .. '/' .. path) end
  local function range(l1, c1, l2, c2) return { start = { line = l1, character = c1 }, ['end'] = { line = l2, character = c2 } } end
  --- A TextDocumentEdit of `path` in `dir` (version nil: the file on disk, sent as null).
  local function text_edit(dir, path, version, edits)
    return { textDocument = { uri = uri(dir, path), version = version or vim.NIL }, edits = edits }
  end
  --- The options the server sends with a create or a rename.
  local strict = { overwrite = false, ignoreIfExists = false }
  --- The edit as the server's JSON reaches the handler.
  local function wire(edit) return vim.json.decode(vim.json.encode(edit), { luanil = { object = true } }) end
  local function answer(edit) return handler(nil, { edit = wire(edit) }, { client_id = -1 }) end
  --- Every file under `dir` with its text, and the files of it loaded in a buffer.
  local function tree(dir)
    local files, buffers = {}, {}
    for _, path in ipairs(vim.fn.globpath(dir, '**', false, true)) do
      if vim.fn.isdirectory(path) == 0 then files[path:sub(#dir + 2)] = read(path) end
    end
    for _, b in ipairs(api.nvim_list_bufs()) do
      local name = api.nvim_buf_get_name(b)
      if api.nvim_buf_is_loaded(b) and name:sub(1, #dir + 1) == dir .. '/' then
        buffers[name:sub(#dir + 2)] = { text = support.text(b), modified = vim.bo[b].modified }
      end
    end
    return { files = files, buffers = buffers }
  end

  local cart = 'export function total(items) {\n  return items.length;\n}\n'

  case('create over a file that exists', function()
    local dir = folder('create-exists', { ['src/cart.ts'] = cart, ['test/cart.test.ts'] = '// mine\n' })
    local before = tree(dir)
    local got = answer({ documentChanges = {
      text_edit(dir, 'src/cart.ts', nil, { { range = range(0, 16, 0, 21), newText = 'sumCart' } }),
      { kind = 'create', uri = uri(dir, 'test/cart.test.ts'), options = strict },
      text_edit(dir, 'test/cart.test.ts', nil, { { range = range(0, 0, 0, 0), newText = 'it()\n' } }),
    } })
    result.create_exists = { answer = got, before = before, after = tree(dir) }
  end)

  case('create in a folder that does not exist', function()
    local dir = folder('create-folder', { ['src/cart.ts'] = cart })
    local got = answer({ documentChanges = {
      { kind = 'create', uri = uri(dir, 'test/unit/cart.test.ts'), options = strict },
      text_edit(dir, 'test/unit/cart.test.ts', nil, { { range = range(0, 0, 0, 0), newText = 'it("sums")\n' } }),
    } })
    result.create_folder = { answer = got, after = tree(dir) }
  end)

  case('rename onto a file that exists', function()
    local dir = folder('rename-exists', { ['src/old.ts'] = 'old\n', ['src/new.ts'] = 'new\n' })
    local before = tree(dir)
    local got = answer({ documentChanges = {
      { kind = 'rename', oldUri = uri(dir, 'src/old.ts'), newUri = uri(dir, 'src/new.ts'), options = strict },
    } })
    result.rename_exists = { answer = got, before = before, after = tree(dir) }
  end)

  case('rename into a new folder, then edit', function()
    local dir = folder('rename-edit', { ['src/old.ts'] = 'const a = 1;\n', ['src/gone.ts'] = 'x\n' })
    local got = answer({ documentChanges = {
      { kind = 'rename', oldUri = uri(dir, 'src/old.ts'), newUri = uri(dir, 'lib/new.ts'), options = strict },
      text_edit(dir, 'lib/new.ts', nil, { { range = range(0, 10, 0, 11), newText = '2' } }),
      { kind = 'delete', uri = uri(dir, 'src/gone.ts') },
    } })
    result.rename_edit = { answer = got, after = tree(dir) }
  end)

  case('delete a file that does not exist', function()
    local dir = folder('delete-missing', { ['src/cart.ts'] = cart })
    local before = tree(dir)
    local got = answer({ documentChanges = {
      text_edit(dir, 'src/cart.ts', nil, { { range = range(0, 16, 0, 21), newText = 'sumCart' } }),
      { kind = 'delete', uri = uri(dir, 'src/unused.ts') },
    } })
    result.delete_missing = { answer = got, before = before, after = tree(dir) }
  end)

  case('an edit for a buffer changed since', function()
    local dir = folder('stale-version', { ['src/cart.ts'] = cart, ['src/checkout.ts'] = 'total(cart);\n' })
    vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/src/cart.ts'))
    local buf = api.nvim_get_current_buf()
    -- The buffer's version as Neovim's LSP client records it on every change of a buffer a server is
    -- attached to (no server here): 7 when the server made the edit, 8 after the user typed.
    local versions = vim.lsp.util.buf_versions
    versions[buf] = 7
    api.nvim_buf_set_lines(buf, 0, 0, true, { '// typed meanwhile' })
    versions[buf] = 8
    local before = tree(dir)
    local got = answer({ documentChanges = {
      text_edit(dir, 'src/checkout.ts', nil, { { range = range(0, 0, 0, 5), newText = 'sumCart' } }),
      text_edit(dir, 'src/cart.ts', 7, { { range = range(0, 16, 0, 21), newText = 'sumCart' } }),
    } })
    result.stale_version = { answer = got, before = before, after = tree(dir) }
    api.nvim_buf_delete(buf, { force = true })
  end)

  -- The preview's text of each file is what lands: UTF-16 columns after a non-ASCII character, two
  -- edits on a line, an insertion at the end, and a loaded buffer with unsaved text next to a file not loaded.
  case('preview equals what lands; undo takes it back', function()
    local price = 'const label = "€ " + total(cart) + " / " + total(other);\n'
    local dir = folder('preview', { ['src/price.ts'] = price, ['src/cart.ts'] = cart })
    vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/src/cart.ts'))
    local cart_buf = api.nvim_get_current_buf()
    api.nvim_buf_set_lines(cart_buf, 0, 0, true, { '// unsaved' })
    local edit = wire({ documentChanges = {
      text_edit(dir, 'src/price.ts', nil, {
        { range = range(0, 21, 0, 26), newText = 'sumCart' },
        { range = range(0, 43, 0, 48), newText = 'sumCart' },
        { range = range(1, 0, 1, 0), newText = 'export { label };\n' },
      }),
      text_edit(dir, 'src/cart.ts', nil, { { range = range(1, 16, 1, 21), newText = 'sumCart' } }),
      { kind = 'create', uri = uri(dir, 'test/price.test.ts'), options = strict },
      text_edit(dir, 'test/price.test.ts', nil, { { range = range(0, 0, 0, 0), newText = 'import { label } from "../src/price";\n' } }),
    } })
    local previews = {}
    for _, f in ipairs(changes.files_of(edit)) do
      previews[vim.uri_to_fname(f.uri):sub(#dir + 2)] = changes.texts_of(f, 'utf-16').after
    end
    local loaded_before = loaded(dir .. '/src/price.ts')
    local got = handler(nil, { edit = edit }, { client_id = -1 })
    local after = tree(dir)
    local undone = {}
    for _, path in ipairs({ 'src/price.ts', 'src/cart.ts' }) do
      local b = changes.loaded_buffer(dir .. '/' .. path)
      api.nvim_buf_call(b, function() vim.cmd('silent undo') end)
      undone[path] = support.text(b)
    end
    result.preview = { answer = got, previews = previews, loaded_before = loaded_before, after = after, undone = undone }
  end)
end

support.run(main)
