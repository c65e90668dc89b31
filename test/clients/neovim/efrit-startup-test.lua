-- Commands run while the server is still starting (started by test/clients/neovim.test.ts):
-- right after a file opens, before `initialize` is answered, they wait for the client to
-- attach; a server that exits or never answers ends the wait with a message that says so.
-- Cases as in efrit-test.lua; prints one `EFRIT_RESULT {json}` line.
local support = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'support.lua')
local wait, case, result = support.wait, support.case, support.result

local function main()
  local env = vim.env
  local api = vim.api
  local efrit = support.load_efrit({ 'EFRIT_TEST_RTP', 'EFRIT_TEST_SERVER', 'EFRIT_TEST_PROJECT' })
  local function chat_text()
    local chat = efrit.chat_buffer()
    return chat and table.concat(api.nvim_buf_get_lines(chat, 0, -1, false), '\n') or ''
  end
  --- Opens `path` as TypeScript (FileType starts the server) without waiting for anything.
  local function open(path)
    vim.cmd('edit ' .. vim.fn.fnameescape(path))
    vim.bo.filetype = 'typescript'
  end
  --- A project of its own (a root of its own, so a server of its own) holding one file.
  local function project(name)
    local dir = env.EFRIT_TEST_PROJECT .. '/../' .. name
    vim.fn.mkdir(dir, 'p')
    vim.fn.writefile({ '{}' }, dir .. '/package.json')
    vim.fn.writefile({ 'export const answer = 42;' }, dir .. '/answer.ts')
    return dir .. '/answer.ts'
  end

  case('chat while the server starts', function()
    efrit.setup({
      cmd = { 'node', env.EFRIT_TEST_SERVER, '--stdio' },
      filetypes = { 'typescript' },
      root_markers = { 'package.json' },
      init_options = { model = 'claude-test-model' },
    })
    open(env.EFRIT_TEST_PROJECT .. '/src/pricing.ts')
    -- In the same tick: the server cannot have answered `initialize` yet.
    local buf = api.nvim_get_current_buf()
    local ready_before = efrit.get_client(buf) ~= nil
    local before = #result.notes
    vim.cmd('EfritChat What is TAX_RATE?')
    vim.cmd('EfritStatus')
    result.startup = { ready_before = ready_before, busy_while_starting = efrit.busy() }
    wait(function() return chat_text():find('TAX_RATE is the tax rate', 1, true) ~= nil end, 'the chat reply')
    wait(function() return support.noted('efrit%-lsp', before) end, 'the status')
    wait(function() return not efrit.busy() end, 'the chat to end')
    result.startup.chat_text = chat_text()
    result.startup.notes = vim.list_slice(result.notes, before + 1)
  end)

  case('a server that exits before it is ready', function()
    efrit.setup({ cmd = { 'false' }, filetypes = { 'typescript' }, root_markers = { 'package.json' } })
    open(project('exits'))
    local before = #result.notes
    vim.cmd('EfritChat Hello?')
    wait(function() return support.noted('stopped before it was ready', before) end, 'the failure')
    result.exits = { busy = efrit.busy(), notes = vim.list_slice(result.notes, before + 1) }
  end)

  case('a server that never answers', function()
    efrit.setup({ cmd = { 'sleep', '60' }, filetypes = { 'typescript' }, root_markers = { 'package.json' }, attach_timeout = 50 })
    open(project('silent'))
    local before = #result.notes
    vim.cmd('EfritDo Add a comment')
    wait(function() return support.noted('did not start within', before) end, 'the timeout')
    result.silent = { busy = efrit.busy(), notes = vim.list_slice(result.notes, before + 1) }
  end)

  case('checkhealth with a server command not on PATH', function()
    efrit.setup({ cmd = { 'efrit-lsp-not-installed', '--stdio' }, filetypes = { 'typescript' } })
    vim.cmd('checkhealth efrit')
    result.health_missing = table.concat(api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    vim.cmd('tabclose')
  end)

  case('setup without commands', function()
    efrit.setup({ create_commands = false, autostart = false })
    result.commands_left = vim.fn.exists(':EfritChat') + vim.fn.exists(':EfritComplete')
  end)
end

support.run(main)
