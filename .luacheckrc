-- luacheck from the repository root (`luacheck clients/neovim test/clients/neovim`): the Lua here is
-- the Neovim client, checked with its own settings, and its test scripts, with theirs.
setfenv(assert(loadfile('clients/neovim/.luacheckrc')), getfenv(1))()
files['test/clients/neovim'] = { read_globals = { vim = { other_fields = true, fields = {
  notify = { read_only = false },
  ui = { read_only = false, other_fields = true },
  lsp = { other_fields = true, fields = {
    handlers = { read_only = false, other_fields = true },
    util = { other_fields = true, fields = { buf_versions = { read_only = false, other_fields = true } } },
  } },
} } } }
