-- efrit: the Neovim client of efrit-lsp, an AI coding assistant that is a
-- language server. Plain LSP already gives the "Efrit: …" code actions
-- (vim.lsp.buf.code_action(), with codeAction/resolve); this plugin starts
-- and attaches the server, and wraps its custom methods: efrit/chat,
-- efrit/do, efrit/status, efrit/cancel and the efrit/stream notifications,
-- and shows the server's ghost text (textDocument/inlineCompletion) itself
-- where Neovim has no vim.lsp.inline_completion (before 0.12).
--
-- Works on Neovim 0.7.2 (vim.lsp.start_client + buf_attach_client from
-- FileType/BufEnter autocmds), uses vim.lsp.start on 0.8+ and
-- vim.lsp.config + vim.lsp.enable on 0.11+. See :help efrit.
--
-- This module is the public API; each feature lives in its own module:
--   config    the options          client    start, attach, wait until ready
--   rpc       requests, streams    chat      :EfritChat and the chat buffer
--   agent     :EfritDo             explain   :EfritExplain
--   review    the review view      changes   a WorkspaceEdit, file by file, in memory
--   apply     workspace/applyEdit, checked whole before it lands
--   ghost     ghost text           status    statusline, :EfritStatus, :EfritCancel
--   commands  the user commands    ui        the chat buffer and the float
--   health    :checkhealth efrit
local agent = require('efrit.agent')
local chat = require('efrit.chat')
local client = require('efrit.client')
local commands = require('efrit.commands')
local config = require('efrit.config')
local explain = require('efrit.explain')
local ghost = require('efrit.ghost')
local review = require('efrit.review')
local rpc = require('efrit.rpc')
local status = require('efrit.status')
local ui = require('efrit.ui')

local M = {}

--- require('efrit').setup{ cmd = {...}, filetypes = {...}, init_options = {...}, root_markers = {...} }
function M.setup(opts)
  local values = config.apply(opts)
  ui.chat_options = values.chat
  if values.create_commands then commands.define() else commands.remove() end
  if values.autostart then client.autostart() end
  return M
end

--- The resolved options (read-only use).
function M.config()
  return config.values
end

function M.is_set_up()
  return config.set_up
end

-- Clients
M.get_client = client.get
M.attach = client.attach
--- Every running efrit client.
M.clients = client.all

-- Chat
M.chat = chat.chat
M.new_chat = chat.new_chat
M.open_chat = chat.open_chat
M.chat_session = chat.session
M.chat_buffer = chat.buffer

-- Do and explain
M.run_do = agent.run_do
--- The review on screen (the current buffer's, else the latest opened), or nil: { job_id, summary, files, state, buf }.
M.review = review.current
--- Accepts (rejects) a review: `r`, else the one M.review() gives.
function M.accept_review(r)
  r = r or review.current()
  if r then review.accept(r) end
end
function M.reject_review(r)
  r = r or review.current()
  if r then review.reject(r) end
end
M.explain = explain.explain

-- Ghost text
M.complete = ghost.complete
M.accept = ghost.accept
M.dismiss = ghost.dismiss
M.suggestion = ghost.suggestion

-- Status
M.statusline = status.statusline
M.status = status.status
M.cancel = status.cancel

--- True while a request of ours (ghost text aside) waits for the server, or for the server to start.
function M.busy()
  return rpc.busy() or client.waiting()
end

--- The latest efrit/stream notification (for `User EfritStream` handlers on 0.7, which has no event data).
function M.last_stream()
  return rpc.state.last_stream
end

return M
