-- :EfritStatus after a session that used two providers: a chat on a Claude model (priced by the
-- `prices` setting) against the fake Messages API, and an inline completion from an `openai:`
-- fastModel (no price) against the fake Chat Completions API, both started by
-- test/clients/neovim.test.ts. Cases as in efrit-test.lua.
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local wait, case, result = support.wait, support.case, support.result

local function main()
  local env = vim.env
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_PROJECT', 'EFRIT_TEST_OPENAI_URL' })
  efrit.setup({
    cmd = { 'node', env.EFRIT_TEST_SERVER, '--stdio' },
    filetypes = { 'typescript' },
    root_markers = { 'package.json' },
    init_options = {
      model = 'claude-shop-test',
      fastModel = 'openai:qwen2.5-coder:7b',
      openai = { baseURL = env.EFRIT_TEST_OPENAI_URL },
      prices = { ['claude-shop-test'] = { input = 3, output = 15 } },
    },
    -- Completion only when the script asks for it, so each provider is asked exactly once.
    inline_completion = false,
  })
  local buf, client

  case('a chat on Claude', function()
    buf, client = support.open_attached(efrit, env.EFRIT_TEST_PROJECT .. '/src/pricing.ts', 'typescript')
    vim.cmd('EfritChat What does applyDiscount do?')
    wait(function() return not efrit.busy() end, 'the chat reply')
    result.chat_text = table.concat(vim.api.nvim_buf_get_lines(efrit.chat_buffer(), 0, -1, false), '\n')
  end)

  case('a completion from the openai fast model', function()
    local source = vim.fn.bufwinid(buf)
    vim.api.nvim_set_current_win(source)
    local last = vim.api.nvim_buf_line_count(buf)
    vim.api.nvim_buf_set_lines(buf, last, last, true, { '', 'export function lineTotal(item: LineItem): number {', '  return ', '}' })
    vim.api.nvim_win_set_cursor(source, { last + 3, #'  return ' })
    local params = vim.lsp.util.make_position_params(source, client.offset_encoding)
    params.context = { triggerKind = 1 }
    local answer
    if vim.fn.has('nvim-0.11') == 1 then
      answer = client:request_sync('textDocument/inlineCompletion', params, 20000, buf)
    else
      answer = client.request_sync('textDocument/inlineCompletion', params, 20000, buf)
    end
    if not answer or answer.err then error('inline completion failed: ' .. vim.inspect(answer)) end
    result.completion = vim.tbl_map(function(item) return item.insertText end, (answer.result or {}).items or {})
  end)

  case('status lists both providers', function()
    local before = #result.notes
    vim.cmd('EfritStatus')
    wait(function() return support.noted('efrit%-lsp', before) end, 'the status')
    result.status_note = result.notes[#result.notes].msg
    local answered
    require('efrit.status').status(function(s) answered = s end)
    wait(function() return answered ~= nil end, 'the status answer')
    result.providers = answered.providers
  end)

  -- A provider with priced and unpriced calls, and a server that sends no `providers`.
  case('status display of providers', function()
    local status = require('efrit.status')
    result.mixed_lines = status.provider_lines({
      openai = {
        requests = 3, inputTokens = 12400, outputTokens = 800, cacheReadTokens = 30000, cacheWriteTokens = 2000,
        usd = 0.0213, unpricedRequests = 1,
      },
    })
    result.older_lines = #status.provider_lines(nil)
  end)
end

support.run(main)
