"""Secrets the tests configure that have no other home (the Teams/Slack ones are in
tests/bot/support.py, the PostgreSQL password in scripts/start_postgres.sh).

Each is distinctive, so tests/reliability/secret_scan.py finding one in a log means it leaked.
"""

from __future__ import annotations

ADMIN_TOKEN = "pmark-admin-Hv3q9Lw2Xe7Rk"
LLM_API_KEY = "pmark-llm-key-Tb6m2Qz8Wc4"
