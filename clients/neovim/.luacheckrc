-- luacheck configuration for the efrit Neovim plugin: run `luacheck .` in this folder.
std = 'luajit'
-- Neovim's API: read-only, but for the option and variable tables the plugin sets.
local writable = { read_only = false, other_fields = true }
read_globals = {
  vim = {
    other_fields = true,
    fields = { g = writable, b = writable, bo = writable, wo = writable, o = writable, opt = writable },
  },
}
max_line_length = 140
-- Callbacks keep the parameters of the signature they implement.
unused_args = false
