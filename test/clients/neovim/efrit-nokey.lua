-- The Neovim client when the server has no API key: everything that needs no
-- model works, and each model request fails with a message naming
-- ANTHROPIC_API_KEY, shown in the chat buffer and with vim.notify.
-- Run like efrit-test.lua, without ANTHROPIC_API_KEY in the environment; cases as there.
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local wait, case, result = support.wait, support.case, support.result

local function main()
  local env = vim.env
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_PROJECT' })
  efrit.setup({ cmd = { 'node', env.EFRIT_TEST_SERVER, '--stdio' }, filetypes = { 'typescript' }, root_markers = { 'package.json' } })
  local buf, client

  case('code actions without a key', function()
    buf, client = support.open_attached(efrit, env.EFRIT_TEST_PROJECT .. '/src/pricing.ts', 'typescript')
    local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
    params.context = { diagnostics = {} }
    local listed
    if vim.fn.has('nvim-0.11') == 1 then
      listed = client:request_sync('textDocument/codeAction', params, 5000, buf)
    else
      listed = client.request_sync('textDocument/codeAction', params, 5000, buf)
    end
    result.actions = vim.tbl_map(function(a) return a.title end, (listed and listed.result) or {})
  end)

  case('chat without a key', function()
    local before = #result.notes
    vim.cmd('EfritChat Hello?')
    wait(function() return not efrit.busy() end, 'the chat error')
    result.chat_text = table.concat(vim.api.nvim_buf_get_lines(efrit.chat_buffer(), 0, -1, false), '\n')
    result.chat_notes = vim.list_slice(result.notes, before + 1)
  end)

  case('do without a key', function()
    local before = #result.notes
    vim.cmd('EfritDo Add a docstring')
    wait(function() return not efrit.busy() end, 'the do error')
    result.do_notes = vim.list_slice(result.notes, before + 1)
  end)

  case('status without a key', function()
    local before = #result.notes
    vim.cmd('EfritStatus')
    wait(function() return support.noted('efrit%-lsp', before) end, 'the status')
    result.status_note = result.notes[#result.notes].msg
    result.statusline = efrit.statusline()
  end)

  -- What :EfritStatus shows for a server that answers with its built-in demo model (efrit/status
  -- `offline`), and for one whose answer has no such field.
  case('status display offline', function()
    local status = require('efrit.status')
    local s = { version = '1.2.3', model = 'claude-test-model', apiKeyConfigured = false }
    result.status_online = status.format(s)
    s.offline = true
    result.status_offline = status.format(s)
    result.spend_lines = {
      status.spend_text({ usd = 0.012345, requests = 3, unpricedRequests = 0 }),
      status.spend_text({ usd = 0.01, requests = 3, unpricedRequests = 1 }),
      status.spend_text({ usd = 0, requests = 2, unpricedRequests = 2 }),
      status.spend_text({ usd = 0, requests = 0, unpricedRequests = 0 }) or 'none',
      status.spend_text(nil) or 'none',
    }
    s.spend = { usd = 0.5, requests = 1, unpricedRequests = 0 }
    result.status_with_spend = status.format(s)
  end)
end

support.run(main)
