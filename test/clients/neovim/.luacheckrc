-- luacheck configuration for the Neovim client's test scripts: run `luacheck .` in this folder.
-- As the plugin's (clients/neovim/.luacheckrc), and the scripts also replace the functions
-- through which Neovim shows things, to record them (vim.notify, vim.ui.select, LSP handlers).
std = 'luajit'
local writable = { read_only = false, other_fields = true }
read_globals = {
  vim = {
    other_fields = true,
    fields = {
      g = writable, b = writable, bo = writable, wo = writable, o = writable, opt = writable,
      notify = { read_only = false },
      ui = writable,
      lsp = { other_fields = true, fields = { handlers = writable } },
    },
  },
}
max_line_length = 140
unused_args = false
