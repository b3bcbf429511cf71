#!/usr/bin/env bash
# Install the offline Adaptive Card validator the digest tests use, outside the repo. Idempotent.
#   - adaptivecards (Microsoft's Adaptive Cards JS library) -> ~/.cache/pmark/npm
# scripts/validate_card.js loads its dist/ bundle; parsing and validation need no DOM (no jsdom).
# Prints `export` lines for the test suite.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PMARK_CACHE_DIR:-$HOME/.cache/pmark}
ADAPTIVECARDS_VERSION=3.0.6
PKG="$CACHE/npm/node_modules/adaptivecards"
mkdir -p "$CACHE/npm"

command -v node >/dev/null || { echo "node is required (apt-get install nodejs npm)" >&2; exit 1; }
installed=$(node -p "require('$PKG/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$ADAPTIVECARDS_VERSION" ]; then
  echo "installing adaptivecards@$ADAPTIVECARDS_VERSION" >&2
  # Shared with scripts/install_manifest_tools.sh: same package.json, installs add to it.
  [ -f "$CACHE/npm/package.json" ] || echo '{"name":"pmark-manifest-tools","private":true}' >"$CACHE/npm/package.json"
  npm install --prefix "$CACHE/npm" --no-audit --no-fund --ignore-scripts \
    "adaptivecards@$ADAPTIVECARDS_VERSION" >&2
fi

echo '{"type":"AdaptiveCard","version":"1.5","body":[{"type":"TextBlock","text":"ok"}]}' |
  PMARK_ADAPTIVECARDS_DIR="$PKG" node "$REPO/scripts/validate_card.js" >/dev/null

echo "export PMARK_ADAPTIVECARDS_DIR=$PKG"
