"""Slack request signatures, checked before anything reads, parses or logs the body.

Slack signs `v0:{timestamp}:{body}` with the app's signing secret (HMAC-SHA256) and sends the
hex digest as `X-Slack-Signature: v0=…`. The check costs one HMAC over the raw bytes: no
decoding, no parsing, no logging of what an outsider sent. A refusal says why in a few words.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

# Slack's replay window (and slack-sdk's): a timestamp more than five minutes off is refused.
MAX_AGE = 300
# Seconds since 1970 have 10 digits until 2286; a longer number is no timestamp (and int() of
# a 4,301-digit string raises instead of answering).
MAX_TIMESTAMP_DIGITS = 12
_SIGNATURE_LENGTH = len("v0=") + 64


def slack_refusal(
    secret: bytes, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> str | None:
    """Why the request is not signed by Slack, or None when it is."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        return "unsigned"
    if len(timestamp) > MAX_TIMESTAMP_DIGITS or not timestamp.isascii() or not timestamp.isdigit():
        return "invalid timestamp"
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > MAX_AGE:
        return "stale timestamp"
    if len(signature) != _SIGNATURE_LENGTH or not signature.startswith("v0="):
        return "malformed signature"
    expected = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    if not hmac.compare_digest("v0=" + expected.hexdigest(), signature):
        return "bad signature"
    return None
