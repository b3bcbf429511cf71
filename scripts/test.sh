#!/usr/bin/env bash
# Install everything the test suite needs, start the real servers it talks to (PostgreSQL,
# Weaviate, the llama.cpp OpenAI-compatible server), run lint, types and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need_apt=()
command -v odbcinst >/dev/null 2>&1 || need_apt+=(unixodbc)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium chromium-driver fonts-noto-cjk)
# Emoji on the cards (👍, 📋) render in the end-to-end suite's screenshots as in Teams.
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need_apt+=(fonts-noto-color-emoji)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

scripts/setup_venv.sh "dev,llmtest,research"

cleanup() {
  scripts/start_weaviate.sh stop >/dev/null 2>&1 || true
  scripts/start_llm.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

eval "$(scripts/start_postgres.sh)"
eval "$(scripts/start_weaviate.sh)"
eval "$(scripts/start_llm.sh)"
for tool in scripts/install_manifest_tools.sh scripts/install_card_tools.sh; do
  [ -x "$tool" ] && "$tool" >/dev/null
done
# The Agents Playground (Teams client simulator) the end-to-end suite (tests/e2e) drives; its
# fixture runs this same script, as scripts/quickstart.sh does.
scripts/install_playground.sh >/dev/null
export PMARK_REQUIRE_SERVICES=1
# tests/image builds the container image (scripts/build_image.sh) and runs it against PostgreSQL.
export PMARK_TEST_IMAGE=${PMARK_TEST_IMAGE:-1}

.venv/bin/ruff check .
.venv/bin/mypy --strict agent adapters
# Every log record of the suite (DEBUG and up) and every subprocess's output land in one dir
# (tests/suite_logs.py); no secret the suite uses may appear in any of it.
export PMARK_TEST_LOG_DIR="$PWD/.pytest-logs/suite"
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
.venv/bin/python -m tests.reliability.secret_scan "$PMARK_TEST_LOG_DIR" || status=1
exit "$status"
