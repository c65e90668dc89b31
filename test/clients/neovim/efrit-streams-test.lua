-- Streams tied to their requests, and cancellations the server makes, in the
-- Neovim client, headless against the real server and the fake Messages API
-- (started by test/clients/neovim.test.ts, which holds replies to order them):
--   1. two explanations at once, into the chat buffer; the API holds the
--      first until this script has seen the second answered in full, so the
--      second's text streams while the first waits: each text must land in
--      its own entry;
--   2. an explanation superseded by a newer one of the same lines (the server
--      ends the older job): its entry says so at once, and the newer answers;
--   3. :EfritCancel on a slow chat: the request is cancelled and shown so at once.
-- Run like efrit-test.lua. Prints one `EFRIT_RESULT {json}` line.
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local log, wait, case, result = support.log, support.wait, support.case, support.result

local function main()
  local env = vim.env
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_PROJECT' })
  efrit.setup({
    cmd = { 'node', env.EFRIT_TEST_SERVER, '--stdio' },
    filetypes = { 'typescript' },
    root_markers = { 'package.json' },
    init_options = { model = 'claude-test-model' },
  })

  local buf = support.open_attached(efrit, env.EFRIT_TEST_PROJECT .. '/src/pricing.ts', 'typescript')
  local function find_line(needle)
    for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, true)) do
      if l:find(needle, 1, true) then return i end
    end
    error('no line with ' .. needle)
  end
  local function lines_of(needle, count)
    local first = find_line(needle) - 1
    return { start = { line = first, character = 0 }, ['end'] = { line = first + count - 1, character = 1 } }
  end
  local function chat_text()
    local chat = efrit.chat_buffer()
    return chat and table.concat(vim.api.nvim_buf_get_lines(chat, 0, -1, false), '\n') or ''
  end

  -- The chat buffer each time a note arrived, and every note (its stream name included).
  local snapshots, notes = {}, {}
  vim.api.nvim_create_autocmd('User', {
    pattern = 'EfritStream',
    callback = function()
      local s = efrit.last_stream()
      table.insert(notes, { jobId = s.jobId, streamId = s.streamId or vim.NIL, kind = s.kind })
      log('stream %s %s %s %s', s.jobId, tostring(s.streamId), s.kind, s.text)
      if s.kind == 'text' then table.insert(snapshots, chat_text()) end
    end,
  })

  case('two explanations at once', function()
    efrit.explain({ bufnr = buf, where = 'chat', range = lines_of('export function subtotal', 3) })
    efrit.explain({ bufnr = buf, where = 'chat', range = lines_of('export function applyDiscount', 3) })
    wait(function()
      for _, n in ipairs(notes) do
        if n.kind == 'done' then return true end
      end
      return false
    end, 'the second explanation to be answered')
    support.signal('second-explained')
    wait(function() return not efrit.busy() end, 'both explanations')
    result.snapshots = snapshots
    result.after_both = chat_text()
    result.stream_notes = notes
  end)

  case('superseded', function()
    local total = lines_of('export function total', 4)
    local seen = #notes
    efrit.explain({ bufnr = buf, where = 'chat', range = total })
    wait(function() return #notes > seen and notes[#notes].kind == 'status' end, 'the older explanation to ask the model')
    -- The user edits below it; then asks again about the same lines: the older job is replaced.
    vim.api.nvim_buf_set_lines(buf, -1, -1, true, { '// end of pricing' })
    efrit.explain({ bufnr = buf, where = 'chat', range = total })
    wait(function() return not efrit.busy() end, 'the newer explanation')
    result.after_superseded = chat_text()
  end)

  case('cancel', function()
    -- The model sends the first words, then nothing more until the chat is cancelled.
    vim.cmd('EfritChat Write me an essay about discounts.')
    wait(function() return chat_text():find('Well, ', 1, true) ~= nil end, 'the slow reply to start streaming')
    vim.cmd('EfritCancel')
    -- Finished by cancel() itself: nothing waits for an answer Neovim would never hand over.
    result.busy_after_cancel = efrit.busy()
    result.statusline_after_cancel = efrit.statusline()
    result.after_cancel = chat_text()
    wait(function()
      for _, n in ipairs(result.notes) do
        if n.msg:find('cancelled %d+ job') then return true end
      end
      return false
    end, 'the cancel count')
  end)
end

support.run(main)
