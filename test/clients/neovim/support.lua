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

--- Blocks (processing events) until pred() is true; an error naming `what` after `timeout` ms (20 s:
--- a budget for a loaded machine, never a latency the test relies on).
function M.wait(pred, what, timeout)
  if not vim.wait(timeout or 20000, pred, 10) then error('timeout waiting for ' .. what, 2) end
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

M.result = { notes = {}, steps = {}, cases = {} }

function M.step(name)
  table.insert(M.result.steps, name)
  M.log('step: %s', name)
end

--- Runs one case of a scenario: how it ended is recorded under its name (`cases`), for the test of
--- that name on the TypeScript side, and the scenario goes on with the next case either way.
function M.case(name, fn)
  M.step(name)
  local ok, err = xpcall(fn, debug.traceback)
  M.result.cases[name] = ok and { ok = true } or { error = tostring(err) }
  if not ok then M.log('case failed: %s: %s', name, err) end
end

--- Writes the EFRIT_RESULT line and quits: 0 when the scenario ran to its end (its cases say how each
--- went), else 1 with the error that stopped it.
function M.finish(ok, err)
  if ok then
    io.stdout:write('\nEFRIT_RESULT ' .. vim.fn.json_encode(M.result) .. '\n')
    M.log('done')
    vim.cmd('qa!')
  else
    M.log('FAIL: %s', err)
    M.result.error = tostring(err)
    io.stdout:write('\nEFRIT_RESULT ' .. vim.fn.json_encode(M.result) .. '\n')
    vim.cmd('cq')
  end
end

--- Runs a script's `main` (made of cases) and quits (see finish).
function M.run(main)
  local ok, err = xpcall(main, debug.traceback)
  M.finish(ok, err)
end

--- The text of `buf`, its lines joined with newlines (and one at the end).
function M.text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, true), '\n') .. '\n'
end

--- The 1-based number of the first line of `buf` after line `after` that holds `needle`.
function M.find_line(buf, needle, after)
  for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, true)) do
    if i > (after or 0) and l:find(needle, 1, true) then return i end
  end
  error('no line with ' .. needle .. ' in:\n' .. M.text(buf), 2)
end

--- The screen cells of screen row `row` (1-based), as text, after a redraw.
function M.screen_row(row)
  vim.cmd('redraw')
  local cells = {}
  for col = 1, vim.o.columns do
    table.insert(cells, vim.fn.screenstring(row, col))
  end
  return table.concat(cells)
end

--- True once a message matching `pattern` (a Lua pattern) was shown after the first `after` messages.
function M.noted(pattern, after)
  for i = (after or 0) + 1, #M.result.notes do
    if M.result.notes[i].msg:find(pattern) then return true end
  end
  return false
end

-- Every message the plugin shows, in order.
vim.notify = function(msg, level)
  table.insert(M.result.notes, { msg = msg, level = level or vim.log.levels.INFO })
  M.log('notify[%s] %s', tostring(level), msg)
end

return M
