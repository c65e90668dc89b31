-- efrit: the user commands exist from startup; require('efrit').setup() starts the server.
-- Loading the rest of the plugin waits until a command runs or setup() is called.
if vim.g.loaded_efrit == 1 then return end
vim.g.loaded_efrit = 1

if vim.fn.has('nvim-0.7') ~= 1 then
  vim.api.nvim_echo({ { 'efrit needs Neovim 0.7 or later', 'WarningMsg' } }, true, {})
  return
end

require('efrit.commands').define()
