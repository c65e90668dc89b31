-- efrit.config: the options of setup(), with their defaults, and the ones in use.
local M = {}

--- Every option of setup(), with its default (documented in :help efrit.setup()).
M.defaults = {
  name = 'efrit',
  --- The server from PATH (`npm install -g` of efrit-lsp puts it there); never a registry lookup.
  cmd = { 'efrit-lsp', '--stdio' },
  cmd_env = nil,
  --- nil: every buffer that is a file; else a list of filetypes.
  filetypes = nil,
  root_markers = { '.git', 'package.json', 'pyproject.toml', 'setup.py', 'go.mod', 'Cargo.toml', 'Makefile', '.hg' },
  --- The `efrit` settings object (see the server's README); also answered to workspace/configuration.
  init_options = {},
  capabilities = nil,
  on_attach = nil,
  handlers = {},
  flags = { debounce_text_changes = 150 },
  --- Start the server when a matching buffer is opened.
  autostart = true,
  --- Milliseconds a command run while the server is still starting waits for it before giving up.
  attach_timeout = 15000,
  --- Keep :EfritChat, :EfritDo, :EfritExplain, :EfritStatus, :EfritCancel, :EfritComplete (false: remove them).
  create_commands = true,
  chat = { position = 'right', size = nil },
  --- :EfritDo's change shown before it lands (:help efrit-review).
  review = {
    --- false: the server applies the change at once, unreviewed.
    enabled = true,
    --- Where the view opens: 'tab', 'bottom' or 'right'.
    position = 'tab',
    --- The view's keys (false: none): accept, reject, toggle_file, next_file, previous_file, close.
    keys = {},
  },
  --- Where :EfritExplain shows its text: 'float' or 'chat'.
  explain = 'float',
  --- Ghost text from the server (textDocument/inlineCompletion) while typing: Neovim's own
  --- vim.lsp.inline_completion where it exists (0.12+), the plugin's own extmarks elsewhere.
  inline_completion = true,
  --- The plugin's own ghost text (Neovim without vim.lsp.inline_completion).
  ghost_text = {
    --- Ask after typing in Insert mode (triggerKind 2); false: only :EfritComplete / complete().
    auto = true,
    --- Milliseconds of quiet after a keystroke before asking (the server debounces too).
    delay = 150,
    --- Insert-mode key that accepts a shown suggestion and otherwise does its usual job; false: none.
    accept_key = '<Tab>',
    --- Prefer vim.lsp.inline_completion where it exists; false: the plugin's own everywhere.
    native = true,
  },
  --- Use vim.lsp.config/vim.lsp.enable where present (0.11+).
  native_enable = true,
}

--- The options in use: the defaults until setup() runs.
M.values = vim.deepcopy(M.defaults)
M.set_up = false

--- The type of each option setup() checks.
local kinds = {
  cmd = 'table',
  filetypes = 'table',
  init_options = 'table',
  root_markers = 'table',
  on_attach = 'function',
  ghost_text = 'table',
  review = 'table',
  attach_timeout = 'number',
}

--- Merges `opts` over the defaults (lists replace, tables merge) and makes them the options in use.
function M.apply(opts)
  opts = opts or {}
  for key, kind in pairs(kinds) do
    -- 0.11 takes (name, value, type, optional) and deprecates the table form 0.7 needs.
    if vim.fn.has('nvim-0.11') == 1 then
      vim.validate('efrit.setup: ' .. key, opts[key], kind, true)
    else
      vim.validate({ ['efrit.setup: ' .. key] = { opts[key], kind, true } })
    end
  end
  local values = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  for _, key in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if opts[key] then values[key] = opts[key] end
  end
  if opts.init_options then values.init_options = opts.init_options end
  M.values = values
  M.set_up = true
  return values
end

return M
