"""Live figures of the notification lifecycle for the digest: filed, duplicates caught, median
time to close, and how often the fix PMark recommended first is the one recorded on closing
(a precision measured on real work, which no gold set gives)."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.sql.lifecycle import NotificationRecord
from adapters.sql.repository import Repository

# Two fixes count as the same when their character bigrams overlap this much (Dice).
SAME_FIX = 0.5
_SPACE = re.compile(r"[\s\W_]+", re.UNICODE)


def _bigrams(text: str) -> set[str]:
    squeezed = _SPACE.sub("", text.lower())
    return {squeezed[i : i + 2] for i in range(len(squeezed) - 1)} or ({squeezed} - {""})


def same_fix(recommended: str, recorded: str) -> bool:
    """Whether the recorded resolution is the recommended fix, worded either way."""
    a, b = _bigrams(recommended), _bigrams(recorded)
    if not a or not b:
        return False
    return 2 * len(a & b) / (len(a) + len(b)) >= SAME_FIX


def lifecycle_figures(
    filed: Sequence[NotificationRecord], closed: Sequence[NotificationRecord]
) -> dict[str, Any]:
    """Figures from notifications filed and closed in the period."""
    hours = [
        (r.closed_at - r.filed_at).total_seconds() / 3600
        for r in closed
        if r.closed_at is not None and r.filed_at is not None
    ]
    judged = [r for r in closed if r.recommended_fix and r.resolution]
    matched = sum(1 for r in judged if same_fix(r.recommended_fix or "", r.resolution))
    return {
        "filed": len(filed),
        "duplicates_caught": sum(max(0, r.reports - 1) for r in filed),
        "closed": len(closed),
        "median_hours_to_close": round(statistics.median(hours), 2) if hours else None,
        "fix_judged": len(judged),
        "fix_matched": matched,
        "fix_match_rate": round(matched / len(judged), 4) if judged else None,
    }


def lifecycle_stats(repo: Repository, since: datetime) -> dict[str, Any]:
    """The digest's lifecycle figures since a time."""
    return lifecycle_figures(repo.filed_since(since), repo.closed_since(since))
