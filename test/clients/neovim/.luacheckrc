-- luacheck configuration for the Neovim client's test scripts (`luacheck .` here): the plugin's
-- (clients/neovim/.luacheckrc), and the scripts also replace the functions through which Neovim
-- shows things, to record them (vim.notify, vim.ui.select, LSP handlers), and set a buffer's
-- version where Neovim's LSP client keeps it (vim.lsp.util.buf_versions) when no server is attached.
setfenv(assert(loadfile('../../../clients/neovim/.luacheckrc')), getfenv(1))()
read_globals.vim.fields.notify = { read_only = false }
read_globals.vim.fields.ui = { read_only = false, other_fields = true }
read_globals.vim.fields.lsp = {
  other_fields = true,
  fields = {
    handlers = { read_only = false, other_fields = true },
    util = { other_fields = true, fields = { buf_versions = { read_only = false, other_fields = true } } },
  },
}
