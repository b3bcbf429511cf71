#!/usr/bin/env bash
# Install the offline validators the manifest tests use, outside the repo. Idempotent.
#   - kustomize v5.7.1 (built with `go install`; v5.8 needs Go 1.27) -> ~/.cache/pmark/bin/kustomize
#   - @microsoft/app-manifest (Microsoft's Teams manifest JSON schemas) -> ~/.cache/pmark/npm
#   - jsonschema and kubernetes-validate (pinned in the dev extra) -> .venv
# Prints `export` lines for the test suite.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PMARK_CACHE_DIR:-$HOME/.cache/pmark}
KUSTOMIZE_VERSION=v5.7.1
APP_MANIFEST_VERSION=1.1.2
mkdir -p "$CACHE/bin" "$CACHE/npm"

if ! "$CACHE/bin/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
  echo "building kustomize $KUSTOMIZE_VERSION" >&2
  GOBIN="$CACHE/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
fi

SCHEMA_ROOT="$CACHE/npm/node_modules/@microsoft/app-manifest/build/json-schemas/teams"
if [ ! -d "$SCHEMA_ROOT" ]; then
  echo "installing @microsoft/app-manifest@$APP_MANIFEST_VERSION" >&2
  [ -f "$CACHE/npm/package.json" ] || echo '{"name":"pmark-manifest-tools","private":true}' >"$CACHE/npm/package.json"
  npm install --prefix "$CACHE/npm" --no-audit --no-fund --ignore-scripts \
    "@microsoft/app-manifest@$APP_MANIFEST_VERSION" >&2
fi

PY="$REPO/.venv/bin/python"
if ! "$PY" -c "import jsonschema, kubernetes_validate" 2>/dev/null; then
  echo "installing jsonschema and kubernetes-validate into .venv" >&2
  "$REPO/.venv/bin/pip" install -q "jsonschema==4.26.0" "kubernetes-validate==1.37.0" >&2
fi

echo "export PMARK_KUSTOMIZE=$CACHE/bin/kustomize"
echo "export PMARK_TEAMS_SCHEMA_DIR=$SCHEMA_ROOT"
