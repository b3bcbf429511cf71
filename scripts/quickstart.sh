#!/usr/bin/env bash
# Set PMark up on embedded defaults (SQLite, in-process hybrid index, no LLM), load the demo
# catalog and history, and start the service on http://127.0.0.1:3978. When Node is there, also
# start Microsoft 365 Agents Playground (a Teams client simulator, installed as scripts/test.sh
# does) on http://127.0.0.1:56150 to chat with PMark in the browser. PMARK_PLAYGROUND=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_venv.sh
.venv/bin/pmark demo

HOST=${PMARK_HOST:-127.0.0.1}
PORT=${PMARK_PORT:-3978}
UI_PORT=${PMARK_PLAYGROUND_PORT:-56150}
if [ "${PMARK_PLAYGROUND:-1}" != "0" ] && command -v node >/dev/null && command -v npm >/dev/null \
  && eval "$(scripts/install_playground.sh)"; then
  ui="http://127.0.0.1:$UI_PORT"
  mkdir -p .pmark/playground
  # No app id: PMark runs in emulator mode, which the playground needs (it sends unauthenticated
  # activities and takes the replies on its own connector).
  (cd .pmark/playground && TEAMSAPPTESTER_BROWSER=none \
    NODE_OPTIONS="--require $PWD/../../scripts/playground_loopback.cjs" \
    exec "$PMARK_PLAYGROUND" -e "http://$HOST:$PORT/api/messages" -c msteams -p "$UI_PORT" \
      --service-url "$ui/_connector" --disable-telemetry >playground.log 2>&1) &
  playground=$!
  trap 'kill "$playground" 2>/dev/null || true' EXIT
  export PMARK_PLAYGROUND_URL="$ui"
  echo "Agents Playground (Teams client simulator): open $ui once PMark is ready" >&2
else
  echo "Node/npm not found: no Agents Playground (apt-get install nodejs npm to get it)" >&2
fi
echo "PMark: http://$HOST:$PORT/ (what runs, and links)" >&2
.venv/bin/pmark serve --host "$HOST" --port "$PORT" "$@"
