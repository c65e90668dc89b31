-- The Neovim client of efrit-lsp, driven headless against the real server and
-- the fake Messages API (started by test/clients/neovim.test.ts).
--
--   EFRIT_TEST_RTP=clients/neovim EFRIT_TEST_SERVER=dist/efrit-lsp.cjs EFRIT_TEST_PROJECT=/tmp/x \
--   ANTHROPIC_API_KEY=… ANTHROPIC_BASE_URL=… \
--   timeout 60 nvim --headless -u NONE -i NONE -c 'luafile test/clients/neovim/efrit-test.lua'
--
-- Exit 0 with one `EFRIT_RESULT {json}` line on stdout, or :cq (1) with the
-- failure on stderr. The TypeScript side asserts on the JSON and the fake's log.
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local log, wait, step, result = support.log, support.wait, support.step, support.result

local function main()
  local env = vim.env
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_PROJECT' })

  efrit.setup({
    cmd = { 'node', env.EFRIT_TEST_SERVER, '--stdio' },
    filetypes = { 'typescript' },
    root_markers = { 'package.json' },
    -- A resolve budget no answer outlasts (the most the server takes); 3b sets one every answer outlasts.
    init_options = { model = 'claude-test-model', queue = { concurrency = 2 }, codeActions = { resolveBudgetMs = 600000 } },
    explain = 'float',
  })
  for _, name in ipairs({ 'EfritChat', 'EfritDo', 'EfritExplain', 'EfritStatus', 'EfritCancel' }) do
    if vim.fn.exists(':' .. name) ~= 2 then error(':' .. name .. ' was not created') end
  end

  -- What the server logs (window/logMessage), to see it take a settings change.
  local logged = {}
  local log_message = vim.lsp.handlers['window/logMessage']
  vim.lsp.handlers['window/logMessage'] = function(err, params, ...)
    if type(params) == 'table' and type(params.message) == 'string' then table.insert(logged, params.message) end
    return log_message(err, params, ...)
  end

  -- Neovim's own $/progress handler fires User LspProgressUpdate (0.7-0.9).
  local progress_updates = 0
  vim.api.nvim_create_autocmd('User', {
    pattern = 'LspProgressUpdate',
    callback = function() progress_updates = progress_updates + 1 end,
  })

  -- Streamed events, and what the chat buffer looked like while they arrived.
  local stream_events, partial_chat = {}, {}
  vim.api.nvim_create_autocmd('User', {
    pattern = 'EfritStream',
    callback = function()
      local s = efrit.last_stream()
      table.insert(stream_events, { kind = s.kind, jobId = s.jobId, sessionId = s.sessionId })
      log('stream %s %s %s %s', s.jobId, tostring(s.sessionId), s.kind, s.text)
      if s.kind == 'text' and efrit.chat_buffer() then
        table.insert(partial_chat, table.concat(vim.api.nvim_buf_get_lines(efrit.chat_buffer(), 0, -1, false), '\n'))
      end
    end,
  })

  -- 1. Open a source file; -u NONE has no filetype detection, so set it (this fires FileType → attach).
  step('attach')
  local file = env.EFRIT_TEST_PROJECT .. '/src/pricing.ts'
  local buf, client = support.open_attached(efrit, file, 'typescript')
  local src_win = vim.api.nvim_get_current_win()
  result.root_dir = client.config.root_dir
  result.offset_encoding = client.offset_encoding
  local caps = client.server_capabilities or {}
  result.resolve_provider = type(caps.codeActionProvider) == 'table' and caps.codeActionProvider.resolveProvider == true

  local function text()
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, true), '\n') .. '\n'
  end
  local function find_line(needle)
    for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, true)) do
      if l:find(needle, 1, true) then return i end
    end
    error('no line with ' .. needle .. ' in:\n' .. text())
  end
  local function in_source()
    vim.api.nvim_set_current_win(src_win)
  end

  -- Log every request the client sends (to see the resolve path taken), and
  -- signal the handover of a slow action: the fake answers it only then.
  -- Client methods are called with a colon from 0.11 on.
  local colon = vim.fn.has('nvim-0.11') == 1
  local methods = {}
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
  local function request_sync(method, params)
    if colon then return client:request_sync(method, params, 5000, buf) end
    return client.request_sync(method, params, 5000, buf)
  end

  -- 2. Edit the buffer: incremental didChange, debounced, flushed by the next request.
  step('edit')
  vim.api.nvim_buf_set_lines(buf, 0, 0, true, { '// Prices are in cents; percentages are 0–100.' })
  local tax_line = find_line('export const TAX_RATE')
  vim.api.nvim_buf_set_text(buf, tax_line - 1, #'export const TAX_RATE = ', tax_line - 1, #'export const TAX_RATE = 0.2', { '0.25' })

  -- 3. A code action through Neovim's own UI: vim.lsp.buf.code_action() → codeAction/resolve → edit.
  step('code action')
  local offered = {}
  vim.ui.select = function(items, _, on_choice)
    for _, item in ipairs(items) do
      table.insert(offered, item[2].title)
    end
    for _, item in ipairs(items) do
      if item[2].title == 'Efrit: Add documentation' then return on_choice(item) end
    end
    on_choice(nil)
  end
  vim.api.nvim_win_set_cursor(0, { find_line('export function subtotal'), 7 })
  vim.lsp.buf.code_action()
  wait(function() return text():find('/** Sums unit price × quantity', 1, true) ~= nil end, 'the documentation edit')
  result.offered = offered
  local function action_methods()
    return vim.tbl_filter(function(m)
      return m == 'codeAction/resolve' or m == 'workspace/executeCommand' or m == 'textDocument/codeAction'
    end, vim.deepcopy(methods))
  end
  result.code_action_methods = action_methods()

  -- 3b. A slow one: the model outlasts the resolve budget (now 0, changed as a
  --     user changes a setting; and the fake answers only once Neovim has sent
  --     efrit.applyJob), so resolve hands back efrit.applyJob, which Neovim
  --     executes, and the server applies the edit.
  step('slow code action')
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
  vim.api.nvim_win_set_cursor(0, { find_line('export function total'), 0 })
  vim.lsp.buf.code_action()
  wait(function() return text():find('if (import.meta.vitest) {', 1, true) ~= nil end, 'the tests edit')
  result.slow_action_methods = action_methods()

  -- 4. :EfritChat on a visual-line range, two turns in one session, streamed into the chat buffer.
  step('chat turn 1')
  local first, last = find_line('export function applyDiscount'), find_line('export function applyDiscount') + 2
  result.chat_range = { first = first, last = last, last_text = vim.api.nvim_buf_get_lines(buf, last - 1, last, true)[1] }
  vim.cmd(string.format('%d,%dEfritChat What does applyDiscount do?', first, last))
  if vim.api.nvim_get_current_win() ~= src_win then error(':EfritChat moved the cursor out of the source window') end
  local chat_buf = efrit.chat_buffer()
  if not chat_buf then error('no chat buffer') end
  local chat_visible = false
  for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(w) == chat_buf then chat_visible = true end
  end
  result.chat_visible = chat_visible
  -- The fake holds the rest of the reply until its first part shows.
  wait(function()
    return table.concat(vim.api.nvim_buf_get_lines(chat_buf, 0, -1, false), '\n'):find('`applyDiscount` takes ', 1, true) ~= nil
  end, 'the first part of the chat reply')
  support.signal('chat-partial')
  wait(function() return not efrit.busy() end, 'the first chat reply')
  result.session1 = efrit.chat_session()
  result.partial_chat = partial_chat
  partial_chat = {}

  step('chat turn 2')
  in_source()
  vim.cmd('EfritChat Does it check that percent is in range?')
  wait(function() return not efrit.busy() end, 'the second chat reply')
  result.session2 = efrit.chat_session()
  result.partial_chat2 = partial_chat

  -- 5. :EfritDo: the agent's edit comes back through workspace/applyEdit.
  step('do')
  in_source()
  vim.api.nvim_win_set_cursor(0, { find_line('return price - (price * percent) / 100;'), 2 })
  vim.cmd('EfritDo Clamp percent to the range 0..100')
  wait(function() return text():find('Math.min(Math.max(percent, 0), 100)', 1, true) ~= nil end, 'the do edit')
  wait(function() return not efrit.busy() end, 'the do answer')

  -- 6. :EfritExplain on a characterwise visual selection (after a non-ASCII
  --    character, so UTF-16 columns differ from bytes), streamed into a float.
  step('explain')
  in_source()
  local doc_line = find_line('/** Sums unit price')
  local doc_text = vim.api.nvim_buf_get_lines(buf, doc_line - 1, doc_line, true)[1]
  vim.api.nvim_win_set_cursor(0, { doc_line, doc_text:find('quantity', 1, true) - 1 })
  vim.cmd('normal! v7l\27')
  vim.cmd("'<,'>EfritExplain")
  wait(function() return not efrit.busy() end, 'the explanation')
  local floats = {}
  for _, w in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(w).relative ~= '' then
      table.insert(floats, table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(w), 0, -1, false), '\n'))
    end
  end
  result.floats = floats
  result.explain_selection = { line = doc_line, text = doc_text }

  -- ...and, through the Lua API, into the chat buffer, for a visual range.
  in_source()
  local a = find_line('export function total')
  efrit.explain({ where = 'chat', range = { start = { line = a - 1, character = 0 }, ['end'] = { line = a + 2, character = 1 } } })
  wait(function() return not efrit.busy() end, 'the explanation in the chat buffer')

  -- 7. :EfritStatus
  step('status')
  local before = #result.notes
  vim.cmd('EfritStatus')
  wait(function()
    for i = before + 1, #result.notes do
      if result.notes[i].msg:find('efrit-lsp', 1, true) then return true end
    end
    return false
  end, 'the status message')

  -- 8. :EfritCancel stops a chat the model never finishes.
  step('cancel')
  in_source()
  vim.cmd('EfritChat Write me an essay about discounts.')
  wait(function()
    return table.concat(vim.api.nvim_buf_get_lines(chat_buf, 0, -1, false), '\n'):find('Well, ', 1, true) ~= nil
  end, 'the slow reply to start streaming')
  result.statusline_busy = efrit.statusline()
  log('cancelling')
  vim.cmd('EfritCancel')
  wait(function() return not efrit.busy() end, 'the cancelled chat to be answered')
  result.statusline_idle = efrit.statusline()
  wait(function()
    for _, n in ipairs(result.notes) do
      if n.msg:find('cancelled %d+ job') then return true end
    end
    return false
  end, 'the cancel count')

  -- 9. The server's copy of the document is the buffer.
  step('sync')
  in_source()
  local answer = request_sync('efrit/documentText', { textDocument = { uri = vim.uri_from_bufnr(buf) } })
  if not (answer and answer.result) then error('efrit/documentText failed: ' .. vim.inspect(answer)) end
  result.server_text = answer.result.text
  result.server_version = answer.result.version
  result.buffer_text = text()
  result.changedtick = vim.api.nvim_buf_get_changedtick(buf)
  result.chat_text = table.concat(vim.api.nvim_buf_get_lines(chat_buf, 0, -1, false), '\n')
  result.stream_kinds = {}
  for _, e in ipairs(stream_events) do
    result.stream_kinds[e.kind] = (result.stream_kinds[e.kind] or 0) + 1
  end
  -- client.messages.progress is where 0.7-0.9 keep $/progress (0.10+ keep a ring buffer instead).
  if client.messages and client.messages.progress then
    result.progress_updates = progress_updates
    local function all_progress_ended()
      for _, p in pairs(client.messages.progress) do
        if not p.done then return false end
      end
      return true
    end
    wait(all_progress_ended, 'every $/progress to end')
    local progress = {}
    for token, p in pairs(client.messages.progress) do
      table.insert(progress, { token = tostring(token), title = p.title, done = p.done == true })
    end
    result.progress = progress
  end

  -- 10. :checkhealth efrit
  step('checkhealth')
  vim.cmd('checkhealth efrit')
  result.health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  vim.cmd('tabclose')

  io.stdout:write('EFRIT_RESULT ' .. vim.fn.json_encode(result) .. '\n')
  log('OK')
end

support.run(main)
