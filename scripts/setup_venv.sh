#!/usr/bin/env bash
# Create .venv and install PMark with the given extras (default: none). Idempotent and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${1:-}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
# A venv interrupted while being created has python but no pip: start it over.
if [ ! -x .venv/bin/python ] || [ ! -x .venv/bin/pip ]; then
  "$PY" -m venv --clear .venv
  .venv/bin/pip install -q --upgrade pip
fi
# llama-cpp-python (the llmtest extra) compiles llama.cpp: build it portable and without tools.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DGGML_OPENMP=OFF}"
spec="."
[ -n "$EXTRAS" ] && spec=".[$EXTRAS]"
.venv/bin/pip install -q -e "$spec"
