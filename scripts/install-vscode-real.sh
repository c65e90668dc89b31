#!/usr/bin/env bash
# Installs a real VS Code for test/clients/vscode-real.test.ts: code-server 4.100.3 (= VS Code
# 1.100.3, the last code-server line that runs on Node 20), from the npm registry only, into a cache
# folder outside the repository. The test drives it with playwright-core (a devDependency) and
# Debian's Chromium.
#
# usage: scripts/install-vscode-real.sh
#   EFRIT_VSCODE_REAL  the cache folder (default ~/.cache/efrit-vscode-real); code-server lands in
#                      $EFRIT_VSCODE_REAL/code-server-4.100.3.
# Idempotent: a finished install leaves a stamp file and a second run returns at once.
# Needs on Debian 12: chromium, ripgrep, libkrb5-dev, build-essential, python3 (apt-get installs
# them when it can).
#
# Why by hand: code-server's own postinstall runs nested `npm install`s whose dependency scripts
# npm 11 skips, and @vscode/ripgrep downloads its binary from GitHub; here native modules are
# compiled against the installed Node's headers (/usr/include/node) and ripgrep comes from Debian.
set -euo pipefail

VERSION=4.100.3
CACHE=${EFRIT_VSCODE_REAL:-$HOME/.cache/efrit-vscode-real}
PREFIX=$CACHE/code-server-$VERSION
STAMP=$PREFIX/.installed
say() { printf '[install-vscode-real +%ss] %s\n' "$SECONDS" "$*"; }

if [ -f "$STAMP" ]; then
  say "code-server $VERSION already installed in $PREFIX"
  exit 0
fi

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ripgrep libkrb5-dev build-essential python3 >/dev/null
fi
for tool in /usr/bin/chromium /usr/bin/rg; do
  [ -x "$tool" ] || { echo "install-vscode-real: $tool is missing (apt-get install chromium ripgrep)" >&2; exit 1; }
done
# node-gyp must use the headers of the installed Node (Debian's nodejs: /usr/include/node): fetching them
# from nodejs.org is not possible here. npm_config_nodedir points elsewhere for another Node.
export npm_config_nodedir=${npm_config_nodedir:-/usr}
[ -f "$npm_config_nodedir/include/node/node.h" ] || {
  echo "install-vscode-real: Node's headers are missing in $npm_config_nodedir/include/node (set npm_config_nodedir)" >&2
  exit 1
}
npm_quiet=(--no-audit --no-fund --loglevel=error)

# A half-finished earlier attempt is started over, so every step below runs on a clean folder.
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
cd "$PREFIX"
echo '{"name":"efrit-vscode-real","private":true}' > package.json

# 1. code-server without its postinstall; argon2 (loaded at start-up) is compiled from source.
npm install "${npm_quiet[@]}" --ignore-scripts "code-server@$VERSION"
npm rebuild "${npm_quiet[@]}" --dangerously-allow-all-scripts argon2
say "code-server package and argon2"

# 2. What code-server's postinstall does, by hand.
cd "$PREFIX/node_modules/code-server/lib/vscode"
npm install "${npm_quiet[@]}" --omit=dev --ignore-scripts
npm rebuild "${npm_quiet[@]}" --dangerously-allow-all-scripts @parcel/watcher @vscode/deviceid @vscode/spdlog kerberos native-watchdog
# node-pty's install script ends with `npx node-gyp@12` (which would fetch from the registry at
# run time); npm's bundled node-gyp builds the same addon.
(cd node_modules/node-pty && node "$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild --nodedir="$npm_config_nodedir" >/dev/null)
mkdir -p node_modules/@vscode/ripgrep/bin && cp /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
(cd extensions && npm install "${npm_quiet[@]}" --omit=dev --ignore-scripts && node postinstall.mjs >/dev/null)
for addon in node-pty/build/Release/pty.node @vscode/spdlog/build/Release/spdlog.node \
  native-watchdog/build/Release/watchdog.node kerberos/build/Release/kerberos.node; do
  [ -f "node_modules/$addon" ] || { echo "install-vscode-real: native module $addon was not built" >&2; exit 1; }
done
say "VS Code server dependencies and native modules"

# code-server writes config and logs under XDG folders: keep this check's inside the cache.
XDG_CONFIG_HOME=$PREFIX/xdg-config XDG_DATA_HOME=$PREFIX/xdg-data "$PREFIX/node_modules/.bin/code-server" --version
touch "$STAMP"
say "code-server $VERSION installed in $PREFIX"
