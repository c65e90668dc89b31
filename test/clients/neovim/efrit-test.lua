-- The Neovim client of efrit-lsp, driven headless against the real server and
-- the fake Messages API (started by test/clients/neovim.test.ts). One scenario
-- made of cases, one behaviour each (support.case): each records how it went
-- under its name, and the TypeScript side has one test per case.
--
--   EFRIT_TEST_RTP=clients/neovim EFRIT_TEST_SERVER=dist/efrit-lsp.cjs EFRIT_TEST_PROJECT=/tmp/x \
--   ANTHROPIC_API_KEY=… ANTHROPIC_BASE_URL=… \
--   timeout 60 nvim --headless -u NONE -i NONE -c 'luafile test/clients/neovim/efrit-test.lua'
--
-- Exit 0 with one `EFRIT_RESULT {json}` line on stdout (each case's outcome in
-- `cases`), or :cq (1) when the scenario itself broke.
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local log, wait, case, result = support.log, support.wait, support.case, support.result

local function main()
  local env = vim.env
  local api = vim.api
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_PROJECT' })
  local commands = { 'EfritChat', 'EfritDo', 'EfritExplain', 'EfritStatus', 'EfritCancel', 'EfritComplete' }

  case('commands before setup', function()
    local exist = {}
    for _, name in ipairs(commands) do exist[name] = vim.fn.exists(':' .. name) == 2 end
    local before = #result.notes
    vim.cmd('EfritChat Hello?')
    vim.cmd('EfritStatus')
    result.before_setup = { exist = exist, notes = vim.list_slice(result.notes, before + 1), cmd = efrit.config().cmd }
  end)

  case('setup', function()
    -- The default command: efrit-lsp from PATH, where the TypeScript side put it as `npm install -g` would.
    efrit.setup({
      filetypes = { 'typescript' },
      root_markers = { 'package.json' },
      -- A resolve budget no answer outlasts (the most the server takes); the slow case sets one every answer outlasts.
      init_options = { model = 'claude-test-model', queue = { concurrency = 2 }, codeActions = { resolveBudgetMs = 600000 } },
      explain = 'float',
    })
    for _, name in ipairs(commands) do
      if vim.fn.exists(':' .. name) ~= 2 then error(':' .. name .. ' is gone after setup()') end
    end
  end)

  -- What the server logs (window/logMessage), to see it take a settings change.
  local logged = {}
  local log_message = vim.lsp.handlers['window/logMessage']
  vim.lsp.handlers['window/logMessage'] = function(err, params, ...)
    if type(params) == 'table' and type(params.message) == 'string' then table.insert(logged, params.message) end
    return log_message(err, params, ...)
  end

  -- Neovim's own $/progress handler fires User LspProgressUpdate (0.7-0.9).
  local progress_updates = 0
  api.nvim_create_autocmd('User', {
    pattern = 'LspProgressUpdate',
    callback = function() progress_updates = progress_updates + 1 end,
  })

  -- Streamed events, and what the chat buffer looked like while they arrived.
  local stream_events, partial_chat = {}, {}
  api.nvim_create_autocmd('User', {
    pattern = 'EfritStream',
    callback = function()
      local s = efrit.last_stream()
      table.insert(stream_events, { kind = s.kind, jobId = s.jobId, sessionId = s.sessionId })
      log('stream %s %s %s %s', s.jobId, tostring(s.sessionId), s.kind, s.text)
      if s.kind == 'text' and efrit.chat_buffer() then
        table.insert(partial_chat, table.concat(api.nvim_buf_get_lines(efrit.chat_buffer(), 0, -1, false), '\n'))
      end
    end,
  })

  local buf, client, src_win
  local colon = vim.fn.has('nvim-0.11') == 1
  local methods = {}
  local function text() return support.text(buf) end
  local function find_line(needle) return support.find_line(buf, needle) end
  local function in_source() api.nvim_set_current_win(src_win) end
  local function chat_text()
    local chat = efrit.chat_buffer()
    return chat and table.concat(api.nvim_buf_get_lines(chat, 0, -1, false), '\n') or ''
  end
  local function floats()
    local found = {}
    for _, w in ipairs(api.nvim_list_wins()) do
      if api.nvim_win_get_config(w).relative ~= '' then
        table.insert(found, table.concat(api.nvim_buf_get_lines(api.nvim_win_get_buf(w), 0, -1, false), '\n'))
      end
    end
    return found
  end
  local function action_methods()
    return vim.tbl_filter(function(m)
      return m == 'codeAction/resolve' or m == 'workspace/executeCommand' or m == 'textDocument/codeAction'
    end, vim.deepcopy(methods))
  end
  local function request_sync(method, params)
    if colon then return client:request_sync(method, params, 5000, buf) end
    return client.request_sync(method, params, 5000, buf)
  end

  -- Open a source file; -u NONE has no filetype detection, so set it (this fires FileType → attach).
  case('attach', function()
    buf, client = support.open_attached(efrit, env.EFRIT_TEST_PROJECT .. '/src/pricing.ts', 'typescript')
    src_win = api.nvim_get_current_win()
    result.root_dir = client.config.root_dir
    result.offset_encoding = client.offset_encoding
    local caps = client.server_capabilities or {}
    result.resolve_provider = type(caps.codeActionProvider) == 'table' and caps.codeActionProvider.resolveProvider == true

    -- Log every request the client sends (to see the resolve path taken), and
    -- signal the handover of a slow action: the fake answers it only then.
    local request = client.request
    local function sent(method, params)
      table.insert(methods, method)
      if method == 'workspace/executeCommand' and type(params) == 'table' and params.command == 'efrit.applyJob' then
        support.signal('apply-job-sent')
      end
    end
    if colon then
      client.request = function(self, method, params, ...)
        local r = { request(self, method, params, ...) }
        sent(method, params)
        return unpack(r)
      end
    else
      client.request = function(method, params, ...)
        local r = { request(method, params, ...) }
        sent(method, params)
        return unpack(r)
      end
    end
  end)

  -- Edits first (incremental didChange, debounced, flushed by the next request); then a code
  -- action through Neovim's own UI: vim.lsp.buf.code_action() → codeAction/resolve → edit.
  case('code action', function()
    api.nvim_buf_set_lines(buf, 0, 0, true, { '// Prices are in cents; percentages are 0–100.' })
    local tax_line = find_line('export const TAX_RATE')
    api.nvim_buf_set_text(buf, tax_line - 1, #'export const TAX_RATE = ', tax_line - 1, #'export const TAX_RATE = 0.2', { '0.25' })
    local offered = {}
    vim.ui.select = function(items, _, on_choice)
      for _, item in ipairs(items) do table.insert(offered, item[2].title) end
      for _, item in ipairs(items) do
        if item[2].title == 'Efrit: Add documentation' then return on_choice(item) end
      end
      on_choice(nil)
    end
    methods = {}
    api.nvim_win_set_cursor(0, { find_line('export function subtotal'), 7 })
    vim.lsp.buf.code_action()
    wait(function() return text():find('/** Sums unit price × quantity', 1, true) ~= nil end, 'the documentation edit')
    result.offered = offered
    result.code_action_methods = action_methods()
  end)

  -- The model outlasts the resolve budget (set to 0 as a user changes a setting; and the fake
  -- answers only once Neovim has sent efrit.applyJob), so resolve hands back efrit.applyJob,
  -- which Neovim executes, and the server applies the edit.
  case('slow code action', function()
    local settings = client.config.settings
    settings.efrit.codeActions = { resolveBudgetMs = 0 }
    if colon then
      client:notify('workspace/didChangeConfiguration', { settings = settings })
    else
      client.notify('workspace/didChangeConfiguration', { settings = settings })
    end
    wait(function()
      for _, message in ipairs(logged) do
        if message:find('settings changed: codeActions.resolveBudgetMs', 1, true) then return true end
      end
      return false
    end, 'the server to take the new resolve budget')
    methods = {}
    vim.ui.select = function(items, _, on_choice)
      for _, item in ipairs(items) do
        if item[2].title == 'Efrit: Write tests' then return on_choice(item) end
      end
      on_choice(nil)
    end
    api.nvim_win_set_cursor(0, { find_line('export function total'), 0 })
    vim.lsp.buf.code_action()
    wait(function() return text():find('if (import.meta.vitest) {', 1, true) ~= nil end, 'the tests edit')
    result.slow_action_methods = action_methods()
  end)

  -- :EfritChat on a line range, streamed into the chat buffer.
  case('chat', function()
    in_source()
    local first = find_line('export function applyDiscount')
    local last = first + 2
    result.chat_range = { first = first, last = last, last_text = api.nvim_buf_get_lines(buf, last - 1, last, true)[1] }
    partial_chat = {}
    vim.cmd(string.format('%d,%dEfritChat What does applyDiscount do?', first, last))
    result.chat_kept_cursor = api.nvim_get_current_win() == src_win
    local chat_buf = efrit.chat_buffer()
    if not chat_buf then error('no chat buffer') end
    result.chat_visible = false
    for _, w in ipairs(api.nvim_tabpage_list_wins(0)) do
      if api.nvim_win_get_buf(w) == chat_buf then result.chat_visible = true end
    end
    -- The fake holds the rest of the reply until its first part shows.
    wait(function() return chat_text():find('`applyDiscount` takes ', 1, true) ~= nil end, 'the first part of the chat reply')
    support.signal('chat-partial')
    wait(function() return not efrit.busy() end, 'the first chat reply')
    result.session1 = efrit.chat_session()
    result.partial_chat = partial_chat
    result.chat_after_first = chat_text()
  end)

  case('chat follow-up', function()
    in_source()
    vim.cmd('EfritChat Does it check that percent is in range?')
    wait(function() return not efrit.busy() end, 'the second chat reply')
    result.session2 = efrit.chat_session()
    result.chat_after_second = chat_text()
  end)

  -- :EfritDo: the agent's edit shows for review; accepted (a), it comes back through workspace/applyEdit.
  case('do', function()
    in_source()
    api.nvim_win_set_cursor(0, { find_line('return price - (price * percent) / 100;'), 2 })
    vim.cmd('EfritDo Clamp percent to the range 0..100')
    wait(function() return efrit.review() ~= nil end, 'the review of the do edit')
    result.do_review = support.text(efrit.review().buf)
    vim.cmd('normal a')
    wait(function() return text():find('Math.min(Math.max(percent, 0), 100)', 1, true) ~= nil end, 'the do edit')
    wait(function() return not efrit.busy() end, 'the do answer')
    result.after_do = text()
  end)

  -- :EfritExplain on a characterwise visual selection (after a non-ASCII
  -- character, so UTF-16 columns differ from bytes), streamed into a float.
  case('explain in a float', function()
    in_source()
    local doc_line = find_line('/** Sums unit price')
    local doc_text = api.nvim_buf_get_lines(buf, doc_line - 1, doc_line, true)[1]
    api.nvim_win_set_cursor(0, { doc_line, doc_text:find('quantity', 1, true) - 1 })
    vim.cmd('normal! v7l\27')
    vim.cmd("'<,'>EfritExplain")
    wait(function() return not efrit.busy() end, 'the explanation')
    result.floats = floats()
    result.explain_selection = { line = doc_line, text = doc_text }
    require('efrit.explain').last_float.close()
  end)

  -- While the float shows, q and <Esc> close it from the source window (q would start a macro
  -- there), and the buffer's own mapping of <Esc> comes back afterwards.
  case('explain float keys', function()
    in_source()
    api.nvim_buf_set_keymap(buf, 'n', '<Esc>', '<Cmd>nohlsearch<CR>', { noremap = true, desc = 'the user’s own' })
    api.nvim_win_set_cursor(0, { find_line('export const TAX_RATE'), 0 })
    vim.cmd('EfritExplain')
    wait(function() return not efrit.busy() end, 'the explanation')
    local function mapping(lhs)
      local m = vim.fn.maparg(lhs, 'n', false, true)
      return { buffer = m.buffer == 1, desc = m.desc or vim.NIL }
    end
    local shown = #floats()
    local while_shown = { q = mapping('q'), esc = mapping('<Esc>') }
    -- A second explanation while the first shows replaces it (and gives the keys back before taking them).
    local item = find_line('export interface LineItem')
    efrit.explain({ range = { start = { line = item - 1, character = 0 }, ['end'] = { line = item, character = 0 } } })
    wait(function() return not efrit.busy() end, 'the second explanation')
    local replaced = floats()
    vim.cmd('normal q')
    result.float_keys = {
      shown = shown,
      while_shown = while_shown,
      replaced = replaced,
      after_q = #floats(),
      recording = vim.fn.reg_recording(),
      q_after = vim.fn.maparg('q', 'n'),
      esc_after = mapping('<Esc>'),
    }
  end)

  -- Through the Lua API, into the chat buffer, for a range.
  case('explain into the chat buffer', function()
    in_source()
    local a = find_line('export function total')
    efrit.explain({ where = 'chat', range = { start = { line = a - 1, character = 0 }, ['end'] = { line = a + 2, character = 1 } } })
    wait(function() return not efrit.busy() end, 'the explanation in the chat buffer')
    result.chat_after_explain = chat_text()
  end)

  case('status', function()
    local before = #result.notes
    vim.cmd('EfritStatus')
    wait(function() return support.noted('efrit%-lsp', before) end, 'the status message')
    result.status_note = result.notes[#result.notes].msg
  end)

  -- :EfritCancel stops a chat the model never finishes.
  case('cancel', function()
    in_source()
    vim.cmd('EfritChat Write me an essay about discounts.')
    wait(function() return chat_text():find('Well, ', 1, true) ~= nil end, 'the slow reply to start streaming')
    result.statusline_busy = efrit.statusline()
    log('cancelling')
    vim.cmd('EfritCancel')
    wait(function() return not efrit.busy() end, 'the cancelled chat to be answered')
    result.statusline_idle = efrit.statusline()
    wait(function() return support.noted('cancelled %d+ job') end, 'the cancel count')
    result.chat_after_cancel = chat_text()
  end)

  -- The server's copy of the document is the buffer; every $/progress ended.
  case('sync', function()
    in_source()
    local answer = request_sync('efrit/documentText', { textDocument = { uri = vim.uri_from_bufnr(buf) } })
    if not (answer and answer.result) then error('efrit/documentText failed: ' .. vim.inspect(answer)) end
    result.server_text = answer.result.text
    result.server_version = answer.result.version
    result.buffer_text = text()
    result.changedtick = api.nvim_buf_get_changedtick(buf)
    result.stream_kinds = {}
    for _, e in ipairs(stream_events) do
      result.stream_kinds[e.kind] = (result.stream_kinds[e.kind] or 0) + 1
    end
    -- client.messages.progress is where 0.7-0.9 keep $/progress (0.10+ keep a ring buffer instead).
    if client.messages and client.messages.progress then
      result.progress_updates = progress_updates
      wait(function()
        for _, p in pairs(client.messages.progress) do
          if not p.done then return false end
        end
        return true
      end, 'every $/progress to end')
      local progress = {}
      for token, p in pairs(client.messages.progress) do
        table.insert(progress, { token = tostring(token), title = p.title, done = p.done == true })
      end
      result.progress = progress
    end
  end)

  case('checkhealth', function()
    vim.cmd('checkhealth efrit')
    result.health = table.concat(api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    vim.cmd('tabclose')
  end)
end

support.run(main)
