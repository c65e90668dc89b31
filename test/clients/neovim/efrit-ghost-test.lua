-- Ghost text (the plugin's own, for Neovim without vim.lsp.inline_completion),
-- driven headless against the real server and the fake Messages API (started
-- by test/clients/neovim.test.ts, which asserts on the EFRIT_RESULT line).
--
--   EFRIT_TEST_RTP=clients/neovim EFRIT_TEST_SERVER=dist/efrit-lsp.cjs EFRIT_TEST_FILE=/tmp/x/pricing.py \
--   ANTHROPIC_API_KEY=… ANTHROPIC_BASE_URL=… \
--   timeout 60 nvim --headless -u NONE -i NONE -n -c 'luafile test/clients/neovim/efrit-ghost-test.lua'
--
-- The scenario runs in a coroutine that yields to Neovim's main loop while it
-- waits, so the keys it feeds are typed for real: Insert mode, its
-- autocommands (TextChangedI, CursorMovedI, InsertLeave), the <Tab> mapping
-- and the plugin's timers all run as they do for a user.
local uv = vim.loop
local api = vim.api
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local ms, case, result = support.ms, support.case, support.result

local co
local function resume(...)
  local ok, err = coroutine.resume(co, ...)
  if not ok then
    support.finish(false, debug.traceback(co, err))
  elseif coroutine.status(co) == 'dead' then
    support.finish(true)
  end
end

--- Yields to the main loop until pred() holds (checked every 10 ms).
local function wait(pred, what, timeout)
  local deadline = ms() + (timeout or 20000)
  local timer = uv.new_timer()
  local done = false
  timer:start(0, 10, vim.schedule_wrap(function()
    if done then return end
    local ok, value = pcall(pred)
    if (ok and value) or ms() > deadline then
      done = true
      timer:stop()
      timer:close()
      resume(ok and value and true or false)
    end
  end))
  if not coroutine.yield() then error('timeout waiting for ' .. what, 2) end
end
--- Yields until a timer started now with `msecs` has fired. Any timer armed
--- before it with a delay no longer (the plugin's automatic request after a
--- keystroke) has fired by then, and its scheduled callback has run: libuv
--- runs due timers in the order they fall due, and vim.schedule callbacks in
--- the order they were scheduled. So this shows what such a timer would have
--- done, however slowly the machine runs, with no latency guessed.
local function after_timers_of(msecs)
  local timer = uv.new_timer()
  timer:start(msecs, 0, vim.schedule_wrap(function()
    timer:close()
    resume(true)
  end))
  coroutine.yield()
end

--- Types keys as the user would (mappings apply).
local function type_keys(keys)
  api.nvim_feedkeys(api.nvim_replace_termcodes(keys, true, false, true), 't', false)
end

local function main()
  local env = vim.env
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_FILE' })
  vim.o.showmode = false
  result.native_inline_completion = vim.lsp.inline_completion ~= nil
  local v = vim.version()
  result.nvim_version = { major = v.major, minor = v.minor }
  efrit.setup({
    cmd = { 'node', env.EFRIT_TEST_SERVER, '--stdio' },
    filetypes = { 'python' },
    root_markers = { '.git' },
    init_options = { model = 'claude-test-model' },
    -- What this test is about, on every version.
    ghost_text = { native = false },
  })
  result.complete_command = vim.fn.exists(':EfritComplete') == 2

  -- What the cases share: the buffer, its client, and every request the client sends.
  local buf, client
  local completions, answers, commands = {}, 0, {}
  local colon = vim.fn.has('nvim-0.11') == 1
  local function request_sync(method, params)
    local answer
    if colon then answer = client:request_sync(method, params, 5000, buf) else answer = client.request_sync(method, params, 5000, buf) end
    if not (answer and answer.result) then error(method .. ' failed: ' .. vim.inspect(answer)) end
    return answer.result
  end
  local function line(n) return api.nvim_buf_get_lines(buf, n - 1, n, true)[1] end
  local function text() return support.text(buf) end
  local function find_line(needle, after) return support.find_line(buf, needle, after) end
  local ns = api.nvim_create_namespace('efrit_ghost')
  --- What the ghost text extmarks show: nil when there are none.
  local function ghost()
    local marks = api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })
    if #marks == 0 then return nil end
    local m = marks[1]
    local d = m[4]
    local virt_lines = {}
    for _, l in ipairs(d.virt_lines or {}) do
      local s = ''
      for _, chunk in ipairs(l) do s = s .. chunk[1] end
      table.insert(virt_lines, s)
    end
    local cursor = api.nvim_win_get_cursor(0)
    return {
      count = #marks,
      text = (d.virt_text or {})[1] and d.virt_text[1][1] or '',
      hl = (d.virt_text or {})[1] and d.virt_text[1][2] or '',
      pos = d.virt_text_pos,
      virt_lines = virt_lines,
      at_cursor = m[2] == cursor[1] - 1 and m[3] == cursor[2],
    }
  end
  --- The extmark's column (0-based bytes) and the screen column where its text shows (1-based; nil: not on screen).
  local function ghost_place(row)
    local marks = api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })
    local m = marks[1]
    if not m then return nil end
    local shown = m[4].virt_text[1][1]
    local screen_row = vim.fn.screenpos(0, row, 1).row
    local at = support.screen_row(screen_row):find(shown, 1, true)
    return { col = m[3], screen_col = at or vim.NIL }
  end
  local function suggestion()
    local s = efrit.suggestion()
    return s and s.text or vim.NIL
  end
  local function insert_mode() return api.nvim_get_mode().mode == 'i' end
  local function normal_mode() return api.nvim_get_mode().mode == 'n' end
  --- Insert mode at the end of line n.
  local function append_at(n)
    if not normal_mode() then
      type_keys('<Esc>')
      wait(normal_mode, 'Normal mode')
    end
    api.nvim_win_set_cursor(0, { n, 0 })
    type_keys('A')
    wait(function() return insert_mode() and api.nvim_win_get_cursor(0)[2] == #line(n) end, 'Insert mode at the end of line ' .. n)
  end
  local ret, asked

  case('attach', function()
    buf, client = support.open_attached(efrit, env.EFRIT_TEST_FILE, 'python', wait)
    vim.bo[buf].expandtab = false
    local caps = client.server_capabilities or client.resolved_capabilities or {}
    result.inline_provider = caps.inlineCompletionProvider == true
    local tab_map = vim.fn.maparg('<Tab>', 'i', false, true)
    result.tab_mapping = { buffer = tab_map.buffer == 1, expr = tab_map.expr == 1 }

    -- Every inline completion request (and, for explicit ones, when the plugin has handled the answer) and executed command.
    local request = client.request
    local function spy(method, params, handler)
      if method == 'textDocument/inlineCompletion' then
        table.insert(completions, params.context.triggerKind)
        if params.context.triggerKind == 1 then
          local inner = handler
          handler = function(...)
            local r = { inner(...) }
            answers = answers + 1
            return unpack(r)
          end
        end
      elseif method == 'workspace/executeCommand' then
        table.insert(commands, params.command)
      end
      return handler
    end
    if colon then
      client.request = function(self, method, params, handler, ...)
        return request(self, method, params, spy(method, params, handler), ...)
      end
    else
      client.request = function(method, params, handler, ...)
        return request(method, params, spy(method, params, handler), ...)
      end
    end
  end)

  -- <Tab> is <Tab> while no suggestion shows (in a comment: no automatic suggestion there).
  case('tab without suggestion', function()
    local comment = find_line('# Prices are in cents.')
    append_at(comment)
    result.ghost_before = ghost() or vim.NIL
    type_keys('<Tab>')
    wait(function() return line(comment) ~= '# Prices are in cents.' end, 'the <Tab>')
    result.tab_line = line(comment)
    type_keys('<BS><Esc>')
    wait(function() return normal_mode() and line(comment) == '# Prices are in cents.' end, 'the <BS>')
  end)

  -- Asked explicitly (:EfritComplete from Insert mode): the cleaned suggestion, at the cursor.
  case('explicit', function()
    ret = find_line('    return ')
    append_at(ret)
    local tick = api.nvim_buf_get_changedtick(buf)
    asked = #completions
    type_keys('<Cmd>EfritComplete<CR>')
    wait(function() return ghost() ~= nil end, 'the suggestion to show')
    result.shown = ghost()
    result.shown_api = suggestion()
    result.shown_trigger = completions[asked + 1]
    result.shown_buffer_unchanged = api.nvim_buf_get_changedtick(buf) == tick and line(ret) == '    return '
    result.shown_insert_mode = insert_mode()
    result.statusline_while_shown = efrit.statusline()
  end)

  -- A character that does not match clears it.
  case('mismatch', function()
    type_keys('x')
    wait(function() return line(ret) == '    return x' end, 'the x')
    result.after_mismatch = ghost() or vim.NIL
    result.after_mismatch_api = suggestion()
  end)

  -- Deleting it again: the automatic request (after the pause) shows the suggestion again.
  case('automatic', function()
    asked = #completions
    type_keys('<BS>')
    wait(function() return line(ret) == '    return ' end, 'the <BS>')
    wait(function() return ghost() ~= nil end, 'the automatic suggestion')
    result.automatic = ghost()
    result.automatic_triggers = vim.list_slice(completions, asked + 1)
  end)

  -- Typing its beginning keeps the rest, without asking the server.
  case('typed ahead', function()
    asked = #completions
    type_keys('or')
    wait(function() return line(ret) == '    return or' end, 'the typed-ahead characters')
    result.typed_ahead = ghost() or vim.NIL
    -- Had the keystrokes armed the automatic request, it would have gone out by now.
    after_timers_of(efrit.config().ghost_text.delay)
    result.typed_ahead_later = ghost() or vim.NIL
    result.typed_ahead_requests = #completions - asked
  end)

  -- <Tab> accepts: inserted where the ghost text was drawn, cursor after it, ghost gone, the server told.
  case('accept', function()
    local before = ghost_place(ret)
    local typed = line(ret)
    type_keys('<Tab>')
    wait(function() return line(ret) ~= typed end, 'the accept')
    result.accepted_line = line(ret)
    -- Where the accepted text went: its first byte's column, and the screen column that shows it.
    result.ghost_place = before or vim.NIL
    result.inserted_place = { col = #typed, screen_col = vim.fn.screenpos(0, ret, #typed + 1).col }
    result.after_accept = ghost() or vim.NIL
    result.cursor_after_accept = { row = api.nvim_win_get_cursor(0)[1], col = api.nvim_win_get_cursor(0)[2], eol = #line(ret), line = ret }
    result.accept_insert_mode = insert_mode()
    wait(function() return vim.tbl_contains(commands, 'efrit.completionAccepted') end, 'the accepted command')
    local status
    wait(function()
      status = request_sync('efrit/status', vim.empty_dict())
      return (status.completion or {}).accepted == 1
    end, 'completion.accepted = 1 in efrit/status')
    result.sync_after_accept = request_sync('efrit/documentText', { textDocument = { uri = vim.uri_from_bufnr(buf) } }).text == text()
  end)

  -- A suggestion of two lines: the first at the end of the line, the second as a virtual line; accepted whole.
  case('multi-line', function()
    local total = find_line('    total = ')
    append_at(total)
    type_keys('<Cmd>lua require("efrit").complete()<CR>')
    wait(function() return ghost() ~= nil end, 'the two-line suggestion')
    result.multi = ghost()
    result.multi_api = suggestion()
    type_keys('<Tab>')
    wait(function() return line(total) ~= '    total = ' end, 'the two-line accept')
    result.multi_lines = api.nvim_buf_get_lines(buf, total - 1, total + 1, true)
    local cursor = api.nvim_win_get_cursor(0)
    result.multi_cursor = { row = cursor[1] - total, col = cursor[2], eol = #line(cursor[1]) }
    result.after_multi = ghost() or vim.NIL
  end)

  -- An answer that arrives after the cursor moved is dropped (the fake holds it until then);
  -- asked again it shows, and leaving Insert mode clears it.
  case('stale', function()
    local tax = find_line('    return ', find_line('def with_tax'))
    append_at(tax)
    local answered = answers
    type_keys('<Cmd>EfritComplete<CR><Left>')
    wait(function() return api.nvim_win_get_cursor(0)[2] == #line(tax) - 1 end, 'the <Left>')
    support.signal('moved-away')
    result.statusline_while_asking = efrit.statusline()
    result.busy_while_asking = efrit.busy()
    wait(function() return answers > answered end, 'the slow answer')
    result.after_stale_answer = ghost() or vim.NIL
    type_keys('<End><Cmd>EfritComplete<CR>')
    wait(function() return ghost() ~= nil end, 'the slow suggestion')
    result.with_tax = ghost()
    type_keys('<Esc>')
    wait(normal_mode, 'Normal mode')
    result.after_insert_leave = ghost() or vim.NIL
  end)

  -- The server's copy is the buffer; its counters.
  case('sync', function()
    result.server_text = request_sync('efrit/documentText', { textDocument = { uri = vim.uri_from_bufnr(buf) } }).text
    result.buffer_text = text()
    result.status = request_sync('efrit/status', vim.empty_dict()).completion
    result.triggers = completions
    result.commands = commands
  end)
end

co = coroutine.create(main)
vim.schedule(resume)
