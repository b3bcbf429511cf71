#!/usr/bin/env bash
# Start a single-node Weaviate on loopback (building the binary with `go install` if it is missing).
# Idempotent: a server already answering on the port is reused. Prints `export` lines for the tests.
#   scripts/start_weaviate.sh          start (or reuse) and print PMARK_TEST_WEAVIATE_URL
#   scripts/start_weaviate.sh stop     stop the server this script started
# Environment: WEAVIATE_PORT (8080), WEAVIATE_GRPC_PORT (50051), WEAVIATE_DATA (data dir),
# PMARK_CACHE_DIR (~/.cache/pmark: holds bin/weaviate-server, the pid file and the log).
set -euo pipefail
VERSION=v1.35.2
PORT=${WEAVIATE_PORT:-8080}
GRPC=${WEAVIATE_GRPC_PORT:-50051}
CACHE=${PMARK_CACHE_DIR:-$HOME/.cache/pmark}
BIN="$CACHE/bin/weaviate-server"
DATA=${WEAVIATE_DATA:-${TMPDIR:-/tmp}/pmark-weaviate-$PORT}
PIDFILE="$CACHE/weaviate-$PORT.pid"
LOG="$CACHE/weaviate-$PORT.log"
URL="http://127.0.0.1:$PORT"

ready() { curl -fsS -o /dev/null --max-time 2 "$URL/v1/.well-known/ready" 2>/dev/null; }
alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [ "${1:-start}" = "stop" ]; then
  if alive; then
    pid=$(cat "$PIDFILE")
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    echo "stopped weaviate (pid $pid)" >&2
  else
    echo "weaviate not running (no live pid in $PIDFILE)" >&2
  fi
  rm -f "$PIDFILE"
  exit 0
fi

if ready; then
  echo "export PMARK_TEST_WEAVIATE_URL=$URL"
  exit 0
fi

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null 2>&1 || { echo "go is required to build weaviate-server" >&2; exit 1; }
  echo "building weaviate-server $VERSION into $CACHE/bin (takes a few minutes)" >&2
  mkdir -p "$CACHE/bin"
  GOBIN="$CACHE/bin" go install "github.com/weaviate/weaviate/cmd/weaviate-server@$VERSION" >&2
fi

mkdir -p "$CACHE" "$DATA"
if ! alive; then
  # gRPC listens on every interface (Weaviate v1.35 hard-codes ":port"); everything else is loopback.
  # Cluster ports are moved with the HTTP port so that two servers can run side by side.
  off=$((PORT - 8080))
  (
    cd "$DATA"
    export PERSISTENCE_DATA_PATH="$DATA" \
      AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true \
      DEFAULT_VECTORIZER_MODULE=none \
      ENABLE_MODULES="" \
      CLUSTER_HOSTNAME=node1 \
      CLUSTER_ADVERTISE_ADDR=127.0.0.1 \
      CLUSTER_BIND_ADDR=127.0.0.1 \
      GO_PROFILING_DISABLE=true \
      CLUSTER_GOSSIP_BIND_PORT=$((7946 + 2 * off)) \
      CLUSTER_DATA_BIND_PORT=$((7947 + 2 * off)) \
      RAFT_PORT=$((8300 + 2 * off)) \
      RAFT_INTERNAL_RPC_PORT=$((8301 + 2 * off)) \
      RAFT_BOOTSTRAP_EXPECT=1 \
      RAFT_JOIN=node1 \
      GRPC_PORT="$GRPC" \
      ENABLE_TOKENIZER_KAGOME_KR=true \
      DISABLE_TELEMETRY=true \
      QUERY_DEFAULTS_LIMIT=25 \
      LIMIT_RESOURCES=true \
      GOMAXPROCS="${GOMAXPROCS:-2}"
    setsid nohup "$BIN" --host 127.0.0.1 --port "$PORT" --scheme http \
      >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  )
fi

for _ in $(seq 1 60); do
  if ready; then
    echo "weaviate $VERSION ready on $URL (pid $(cat "$PIDFILE"), data $DATA, log $LOG)" >&2
    echo "export PMARK_TEST_WEAVIATE_URL=$URL"
    exit 0
  fi
  if ! alive; then break; fi
  sleep 1
done
echo "weaviate did not become ready on $URL within 60 s; last log lines:" >&2
tail -n 40 "$LOG" >&2 || true
exit 1
