#!/usr/bin/env bash
# The VS Code extension and what its end-to-end test needs: bundles and packages
# client-vscode/aicockpit.vsix, and installs code-server 4.99.3 (a real VS Code that
# runs on Node 20) under .cache/code-server, headless Chromium and chromedriver.
# Called by scripts/setup.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apt.sh
ROOT=$PWD
CODE_SERVER_VERSION=4.99.3
VSCE_VERSION=3.9.2  # 4.x needs Node 22

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "setup-vscode: Node.js 20 and npm are needed (apt-get install nodejs npm)" >&2; exit 1; }

# System packages: Chromium + driver (the e2e test's browser), and what code-server's
# native modules build against. ripgrep replaces the binary code-server would download.
apt_install chromium chromium-driver libkrb5-dev pkg-config ripgrep

# vsce outside the extension folder, so it is never bundled into the .vsix.
if [ ! -x .cache/vsce/node_modules/.bin/vsce ]; then
  mkdir -p .cache/vsce
  echo '{"private": true}' > .cache/vsce/package.json
  (cd .cache/vsce && npm install --silent --no-audit --no-fund "@vscode/vsce@$VSCE_VERSION")
fi

# The extension: exact dependencies from the lock file (esbuild's binary comes from
# the npm registry as @esbuild/linux-x64), a strict type check, then one bundle
# (vsce runs `vscode:prepublish`: esbuild) packaged with the chat view's assets only.
(
  cd client-vscode
  npm ci --silent --no-audit --no-fund
  npx --no-install tsc -p . --noEmit
  rm -rf dist
  "$ROOT/.cache/vsce/node_modules/.bin/vsce" package --no-dependencies --allow-missing-repository \
    -o aicockpit.vsix >/dev/null
)

# code-server from npm. Its postinstall would fetch ripgrep from GitHub: hand it
# Debian's rg in the tarball it looks for in its cache folder ($TMPDIR).
CS=.cache/code-server
if ! "$CS/node_modules/.bin/code-server" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION "; then
  rm -rf "$CS" && mkdir -p "$CS/tmp/vscode-ripgrep-cache-1.15.11"
  tar -czf "$CS/tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" \
    -C "$(dirname "$(command -v rg)")" rg
  echo '{"private": true}' > "$CS/package.json"
  # npm 11 skips dependency install scripts unless allowed; code-server's build its
  # native modules (and checks unsafe-perm when run as root).
  (cd "$CS" && TMPDIR="$ROOT/$CS/tmp" npm_config_yes=true npm_config_unsafe_perm=true \
    npm_config_dangerously_allow_all_scripts=true \
    npm install --silent --no-audit --no-fund "code-server@$CODE_SERVER_VERSION")
  rm -rf "$CS/tmp"
fi
echo "VS Code extension packaged: client-vscode/aicockpit.vsix; code-server $CODE_SERVER_VERSION in $CS"
