#!/usr/bin/env bash
# Install Microsoft 365 Agents Playground (Microsoft's Teams client simulator, npm
# @microsoft/m365agentsplayground, pinned) outside the repo. Idempotent.
#   -> ~/.cache/pmark/playground/node_modules/.bin/agentsplayground
# Used by the end-to-end suite (tests/e2e) and scripts/quickstart.sh.
# Prints `export PMARK_PLAYGROUND=...` for the test suite.
set -euo pipefail
CACHE=${PMARK_CACHE_DIR:-$HOME/.cache/pmark}
PLAYGROUND_VERSION=0.2.28
DIR="$CACHE/playground"
PKG="$DIR/node_modules/@microsoft/m365agentsplayground"
BIN="$DIR/node_modules/.bin/agentsplayground"
mkdir -p "$DIR"

command -v node >/dev/null || { echo "node is required (apt-get install nodejs npm)" >&2; exit 1; }
installed=$(node -p "require('$PKG/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$PLAYGROUND_VERSION" ] || [ ! -x "$BIN" ]; then
  echo "installing @microsoft/m365agentsplayground@$PLAYGROUND_VERSION" >&2
  [ -f "$DIR/package.json" ] || echo '{"name":"pmark-playground","private":true}' >"$DIR/package.json"
  npm install --prefix "$DIR" --no-audit --no-fund --save-exact \
    "@microsoft/m365agentsplayground@$PLAYGROUND_VERSION" >&2
fi
"$BIN" --version >/dev/null

echo "export PMARK_PLAYGROUND=$BIN"
