-- luacheck configuration for the Neovim client's test scripts (`luacheck .` here): the plugin's
-- (clients/neovim/.luacheckrc), and the scripts also replace the functions through which Neovim
-- shows things, to record them (vim.notify, vim.ui.select, LSP handlers).
setfenv(assert(loadfile('../../../clients/neovim/.luacheckrc')), getfenv(1))()
read_globals.vim.fields.notify = { read_only = false }
read_globals.vim.fields.ui = { read_only = false, other_fields = true }
read_globals.vim.fields.lsp = { other_fields = true, fields = { handlers = { read_only = false, other_fields = true } } }
