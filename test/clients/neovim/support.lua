-- What the headless Neovim client tests share (loaded with dofile by each
-- script): a log on stderr with the time since start, a signal to the
-- TypeScript side, a wait with a timeout, and `result`, which records every
-- message the plugin shows (vim.notify) and the steps taken, for the
-- EFRIT_RESULT line the TypeScript side reads.
local M = {}

local t0 = vim.loop.hrtime()

--- Milliseconds since the script started.
function M.ms() return (vim.loop.hrtime() - t0) / 1e6 end

function M.log(fmt, ...)
  io.stderr:write(string.format('NVIM [%7.1fms] ' .. fmt .. '\n', M.ms(), ...))
end

--- Tells the TypeScript side that the state `name` was seen: it holds the fake API's reply
--- until then (test/clients/script-signals.ts). One line on stderr, written out at once.
function M.signal(name)
  io.stderr:write('EFRIT_SIGNAL ' .. name .. '\n')
  io.stderr:flush()
  M.log('signal: %s', name)
end

--- Blocks (processing events) until pred() is true; an error naming `what` after `timeout` ms.
function M.wait(pred, what, timeout)
  if not vim.wait(timeout or 8000, pred, 10) then error('timeout waiting for ' .. what, 2) end
end

--- Opens `path` as `filetype` (-u NONE detects none; setting it fires FileType, which attaches efrit)
--- and waits for efrit's client, with `wait` (M.wait unless given). Returns the buffer and the client.
function M.open_attached(efrit, path, filetype, wait)
  vim.cmd('edit ' .. vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].filetype = filetype
  local wait_for = wait or M.wait
  wait_for(function()
    local c = efrit.get_client(buf)
    return c ~= nil and c.initialized
  end, 'the efrit client to attach and initialize')
  return buf, efrit.get_client(buf)
end

--- Checks that the TypeScript side set each of `names`, puts the plugin on the runtimepath and loads it.
function M.load_efrit(names)
  for _, name in ipairs(names) do
    if not vim.env[name] or vim.env[name] == '' then error(name .. ' is not set', 2) end
  end
  vim.opt.runtimepath:prepend(vim.env.EFRIT_TEST_RTP)
  -- -u NONE loads no plugins: load efrit's plugin/ file as Neovim would at startup.
  vim.cmd('runtime! plugin/efrit.lua')
  return require('efrit')
end

M.result = { notes = {}, steps = {} }

--- Runs a script's `main` (which prints its own EFRIT_RESULT line) and quits; a failure is printed as the
--- EFRIT_RESULT line instead, with the messages shown and the steps taken, and quits with an error code.
function M.run(main)
  local ok, err = xpcall(main, debug.traceback)
  if ok then
    vim.cmd('qa!')
  else
    M.log('FAIL: %s', err)
    io.stdout:write('EFRIT_RESULT ' .. vim.fn.json_encode({ error = tostring(err), notes = M.result.notes, steps = M.result.steps }) .. '\n')
    vim.cmd('cq')
  end
end

function M.step(name)
  table.insert(M.result.steps, name)
  M.log('step: %s', name)
end

-- Every message the plugin shows, in order.
vim.notify = function(msg, level)
  table.insert(M.result.notes, { msg = msg, level = level or vim.log.levels.INFO })
  M.log('notify[%s] %s', tostring(level), msg)
end

return M
