#!/usr/bin/env bash
# Set PMark up on embedded defaults (SQLite, in-process hybrid index, no LLM), load the demo
# catalog and history, and start the service on http://127.0.0.1:3978.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_venv.sh
.venv/bin/pmark demo
exec .venv/bin/pmark serve "$@"
