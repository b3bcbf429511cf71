#!/usr/bin/env bash
# Set PMark up on embedded defaults (SQLite, in-process hybrid index, no LLM), load the demo
# catalog and history, and start the service on http://127.0.0.1:3978. When Node is there, also
# start Microsoft 365 Agents Playground (a Teams client simulator, installed as scripts/test.sh
# does) on http://127.0.0.1:56150 to chat with PMark in the browser. PMARK_PLAYGROUND=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
scripts/setup_venv.sh
.venv/bin/pmark demo

HOST=${PMARK_HOST:-127.0.0.1}
PORT=${PMARK_PORT:-3978}
UI_PORT=${PMARK_PLAYGROUND_PORT:-56150}
ui="http://127.0.0.1:$UI_PORT"
with_playground=0
if [ "${PMARK_PLAYGROUND:-1}" != "0" ] && command -v node >/dev/null && command -v npm >/dev/null \
  && eval "$(scripts/install_playground.sh)"; then
  with_playground=1
  export PMARK_PLAYGROUND_URL="$ui"  # linked from PMark's home page
else
  echo "Node/npm not found: no Agents Playground (apt-get install nodejs npm to get it)" >&2
fi

.venv/bin/pmark serve --host "$HOST" --port "$PORT" "$@" &
serve=$!
playground=
trap 'kill $serve $playground 2>/dev/null || true' EXIT INT TERM
echo "PMark: http://$HOST:$PORT/ (what runs, and links)" >&2

if [ "$with_playground" = 1 ]; then
  # The playground connects to PMark when it starts: start it once PMark answers.
  until .venv/bin/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://$HOST:$PORT/readyz" 2>/dev/null; do
    kill -0 "$serve" 2>/dev/null || exit 1
    sleep 1
  done
  mkdir -p .pmark/playground
  # No app id: PMark runs in emulator mode, which the playground needs (it sends unauthenticated
  # activities and takes the replies on its own connector). It is bound to loopback.
  # Its mock Teams context names the bot PMark (so @PMark works) and has a group chat and a team.
  (cd .pmark/playground && TEAMSAPPTESTER_BROWSER=none \
    M365_AGENTS_PLAYGROUND_CONFIG_PATH="$REPO/scripts/playground.yml" \
    NODE_OPTIONS="--require $REPO/scripts/playground_loopback.cjs" \
    exec "$PMARK_PLAYGROUND" -e "http://$HOST:$PORT/api/messages" -c msteams -p "$UI_PORT" \
      --service-url "$ui/_connector" --disable-telemetry >playground.log 2>&1) &
  playground=$!
  echo "Agents Playground (Teams client simulator): open $ui" >&2
fi
wait "$serve"
