-- :EfritDo's review of a change across files in the Neovim client, headless
-- against the real server and the fake Messages API (started by
-- test/clients/neovim.test.ts, which scripts the model: it reads
-- src/checkout.ts, then proposes to rename total() in src/cart.ts, the file
-- asked about (loaded, with an unsaved edit of the user's), in src/checkout.ts
-- (not loaded) and to create test/cart.test.ts). Cases:
--   accept all; reject all; reject one file, accept the rest; a file created
--   on disk while the view shows (the change is refused whole); a do with no
--   change; "Write tests" as a code action, creating a test file; a do with the
--   review turned off.
-- Between the cases the project is put back as it was. Run like efrit-test.lua;
-- prints one `EFRIT_RESULT {json}` line.
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local log, wait, case, result = support.log, support.wait, support.case, support.result

local function main()
  local env = vim.env
  local api = vim.api
  local uv = vim.uv or vim.loop
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_PROJECT' })
  efrit.setup({
    cmd = { 'node', env.EFRIT_TEST_SERVER, '--stdio' },
    filetypes = { 'typescript' },
    root_markers = { 'package.json' },
    init_options = { model = 'claude-test-model' },
  })
  local project = env.EFRIT_TEST_PROJECT
  local paths = { cart = project .. '/src/cart.ts', checkout = project .. '/src/checkout.ts', test = project .. '/test/cart.test.ts' }

  local function read(path)
    local file = io.open(path, 'rb')
    if not file then return vim.NIL end
    local text = file:read('*a')
    file:close()
    return text
  end
  local function write(path, text)
    local file = assert(io.open(path, 'wb'))
    file:write(text)
    file:close()
  end
  local function loaded(path)
    for _, b in ipairs(api.nvim_list_bufs()) do
      if api.nvim_buf_is_loaded(b) and api.nvim_buf_get_name(b) == path then return b end
    end
  end

  local originals = { cart = read(paths.cart), checkout = read(paths.checkout) }
  local cart, client = support.open_attached(efrit, paths.cart, 'typescript')
  local src_win = api.nvim_get_current_win()
  -- The user's own edit, not saved: the change must land on it, in the buffer.
  local user_line = '// Totals are in cents.'
  local function cart_as_the_user_has_it()
    local lines = vim.split(originals.cart, '\n', { plain = true })
    table.remove(lines) -- the text ends with a newline
    table.insert(lines, 1, user_line)
    api.nvim_buf_set_lines(cart, 0, -1, true, lines)
  end
  cart_as_the_user_has_it()

  -- The commands the plugin sends, with what each was answered.
  local commands = {}
  local colon = vim.fn.has('nvim-0.11') == 1
  local request = client.request
  local function recorded(method, params, handler)
    if method ~= 'workspace/executeCommand' then return handler end
    local entry = { command = params.command, args = vim.deepcopy(params.arguments[1]) }
    table.insert(commands, entry)
    return function(err, res, ...)
      entry.answer = res or vim.NIL
      entry.error = err and err.message or vim.NIL
      return handler(err, res, ...)
    end
  end
  if colon then
    client.request = function(self, method, params, handler, ...)
      return request(self, method, params, recorded(method, params, handler), ...)
    end
  else
    client.request = function(method, params, handler, ...)
      return request(method, params, recorded(method, params, handler), ...)
    end
  end
  local function answered(command)
    for _, c in ipairs(commands) do
      if c.command == command and (c.answer ~= nil or c.error ~= nil) then return true end
    end
    return false
  end

  --- Every file of the project, on disk and in a buffer (vim.NIL: none).
  local function files()
    local state = {}
    for name, path in pairs(paths) do
      local b = loaded(path)
      state[name] = { disk = read(path), buffer = vim.NIL, modified = vim.NIL }
      if b then
        state[name].buffer = support.text(b)
        state[name].modified = vim.bo[b].modified
      end
    end
    state.cart.changedtick = api.nvim_buf_get_changedtick(cart)
    state.test_folder = uv.fs_stat(project .. '/test') ~= nil
    return state
  end

  --- Puts the project back as it was before a case (also after one that failed): no review open, the
  --- other files as on disk and not loaded, nothing created.
  local function put_back()
    local open = efrit.review()
    if open then
      efrit.reject_review(open)
      wait(function() return answered('efrit.rejectJob') end, 'the server to take the rejection')
    end
    for _, name in ipairs({ 'checkout', 'test' }) do
      local b = loaded(paths[name]) or vim.fn.bufnr(paths[name])
      if b and b > 0 then api.nvim_buf_delete(b, { force = true }) end
    end
    write(paths.checkout, originals.checkout)
    os.remove(paths.test)
    uv.fs_rmdir(project .. '/test')
    cart_as_the_user_has_it()
  end

  --- :EfritDo from the source window; waits for the review view. Returns what it showed.
  local function review(instruction)
    api.nvim_set_current_win(src_win)
    local tabs = #api.nvim_list_tabpages()
    vim.cmd('EfritDo ' .. instruction)
    wait(function() return efrit.review() ~= nil end, 'the review view')
    local r = efrit.review()
    local buf = api.nvim_get_current_buf()
    return {
      in_view = buf == r.buf,
      new_tab = #api.nvim_list_tabpages() == tabs + 1,
      filetype = vim.bo[buf].filetype,
      modifiable = vim.bo[buf].modifiable,
      name = api.nvim_buf_get_name(buf),
      cursor_line = api.nvim_get_current_line(),
      text = support.text(buf),
      files = vim.tbl_map(function(f) return { uri = f.uri, path = f.path, kind = f.kind } end, r.files),
    }
  end

  --- Presses `keys` in the view (its own mappings, as typed).
  local function press(keys)
    vim.cmd('normal ' .. keys)
  end
  local function view_text()
    local r = efrit.review()
    return r and support.text(r.buf) or vim.NIL
  end
  local function closed()
    return {
      review = efrit.review() ~= nil,
      tabs = #api.nvim_list_tabpages(),
      back_in_source = api.nvim_get_current_buf() == cart,
    }
  end

  case('accept', function()
    commands = {}
    local shown = review('Rename total() to sumCart() and add a test')
    press('a')
    wait(function() return efrit.review() == nil and not efrit.busy() end, 'the change to be applied')
    local after = files()
    local undone = {}
    for _, name in ipairs({ 'cart', 'checkout', 'test' }) do
      local b = loaded(paths[name])
      if b then
        api.nvim_buf_call(b, function() vim.cmd('silent undo') end)
        undone[name] = support.text(b)
      end
    end
    result.accept = { shown = shown, after = after, undone = undone, closed = closed(), commands = commands }
  end)
  put_back()

  case('reject', function()
    commands = {}
    local before = files()
    local shown = review('Rename total() to cartTotal() and add a test')
    press('r')
    wait(function() return answered('efrit.rejectJob') end, 'the server to take the rejection')
    result.reject = { shown = shown, before = before, after = files(), closed = closed(), commands = commands }
  end)
  put_back()

  case('reject one file', function()
    commands = {}
    local shown = review('Rename total() to grandTotal() and add a test')
    local view = efrit.review()
    api.nvim_win_set_cursor(0, { support.find_line(view.buf, 'console.log'), 0 })
    press('x')
    local marked = view_text()
    local on_header = api.nvim_get_current_line()
    press('a')
    wait(function() return efrit.review() == nil and not efrit.busy() end, 'the change to be applied')
    result.reject_one = { shown = shown, marked = marked, on_header = on_header, after = files(), closed = closed(), commands = commands }
  end)
  put_back()

  case('a file created meanwhile', function()
    commands = {}
    local shown = review('Rename total() to orderTotal() and add a test')
    vim.fn.mkdir(project .. '/test', 'p')
    write(paths.test, '// mine\n')
    local before = files()
    local notes = #result.notes
    press('a')
    wait(function() return answered('efrit.applyJob') and not efrit.busy() end, 'the refusal')
    local view = efrit.review()
    result.created_meanwhile = {
      shown = shown,
      before = before,
      after = files(),
      still_open = view ~= nil and view.state == 'open',
      view_status = view and api.nvim_buf_get_lines(view.buf, 2, 3, true)[1] or vim.NIL,
      notes = vim.list_slice(result.notes, notes + 1),
      commands = vim.list_extend({}, commands),
    }
    press('q')
    wait(function() return answered('efrit.rejectJob') end, 'the server to take the rejection')
    result.created_meanwhile.closed = closed()
    result.created_meanwhile.then_sent = commands[#commands]
  end)
  put_back()

  case('no change', function()
    local notes = #result.notes
    api.nvim_set_current_win(src_win)
    vim.cmd('EfritDo What does total() return?')
    wait(function() return not efrit.busy() end, 'the answer')
    result.no_change = { review = efrit.review() ~= nil, notes = vim.list_slice(result.notes, notes + 1), after = files() }
  end)

  -- "Write tests" through Neovim's own code action UI, with a test file of its own in a folder that does
  -- not exist yet: vim.lsp.buf.code_action() would apply it itself, with Neovim 0.7's create.
  case('write tests in a new file', function()
    api.nvim_set_current_win(src_win)
    api.nvim_win_set_cursor(0, { support.find_line(cart, 'export function total'), 0 })
    local notes = #result.notes
    vim.ui.select = function(items, _, on_choice)
      for _, item in ipairs(items) do
        if item[2].title == 'Efrit: Write tests' then return on_choice(item) end
      end
      on_choice(nil)
    end
    vim.lsp.buf.code_action()
    wait(function() return uv.fs_stat(paths.test) ~= nil and not efrit.busy() end, 'the test file')
    -- The resolve's answer has been handled once the file is there; let Neovim finish the action.
    vim.wait(0)
    result.write_tests = { after = files(), notes = vim.list_slice(result.notes, notes + 1) }
  end)
  put_back()

  case('review off', function()
    local notes = #result.notes
    api.nvim_set_current_win(src_win)
    efrit.run_do('Rename total() to basketTotal() and add a test', { bufnr = cart, review = false })
    wait(function() return not efrit.busy() end, 'the change to be applied')
    result.review_off = { review = efrit.review() ~= nil, notes = vim.list_slice(result.notes, notes + 1), after = files() }
    log('review off: %s', vim.inspect(result.review_off))
  end)
end

support.run(main)
