-- The Neovim client when the server has no API key: everything that needs no
-- model works, and each model request fails with a message naming
-- ANTHROPIC_API_KEY, shown in the chat buffer and with vim.notify.
-- Run like efrit-test.lua, without ANTHROPIC_API_KEY in the environment.
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local log, wait, result = support.log, support.wait, support.result

local function main()
  local env = vim.env
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_PROJECT' })
  efrit.setup({ cmd = { 'node', env.EFRIT_TEST_SERVER, '--stdio' }, filetypes = { 'typescript' }, root_markers = { 'package.json' } })

  local buf, client = support.open_attached(efrit, env.EFRIT_TEST_PROJECT .. '/src/pricing.ts', 'typescript')

  -- Listing code actions needs no model.
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {} }
  local listed
  if vim.fn.has('nvim-0.11') == 1 then
    listed = client:request_sync('textDocument/codeAction', params, 5000, buf)
  else
    listed = client.request_sync('textDocument/codeAction', params, 5000, buf)
  end
  result.actions = vim.tbl_map(function(a) return a.title end, (listed and listed.result) or {})

  vim.cmd('EfritChat Hello?')
  wait(function() return not efrit.busy() end, 'the chat error')
  result.chat_text = table.concat(vim.api.nvim_buf_get_lines(efrit.chat_buffer(), 0, -1, false), '\n')

  vim.cmd('EfritDo Add a docstring')
  wait(function() return not efrit.busy() end, 'the do error')

  vim.cmd('EfritStatus')
  wait(function()
    for _, n in ipairs(result.notes) do
      if n.msg:find('efrit-lsp', 1, true) then return true end
    end
    return false
  end, 'the status')
  result.statusline = efrit.statusline()
  io.stdout:write('EFRIT_RESULT ' .. vim.fn.json_encode(result) .. '\n')
end

support.run(main)
