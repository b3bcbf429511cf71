"""Slot filling: how a message changes the draft notification (rules in README, "Slot filling").

1. An answer to a question fills the fields that were asked, and any field still empty.
2. A field the technician already gave is replaced only by an explicit correction
   ("아니요, 압축기", "no, it's the compressor"): then the fields the correction names replace
   the earlier ones, and each replacement is reported as a change the card shows.
3. Any other message of the same report fills only what is still empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent.state import FieldState

EMPTY = FieldState(code=None, confidence=0.0, method="none", surface="")


def fill(
    previous: dict[str, FieldState],
    parsed: dict[str, FieldState],
    asked: Iterable[str] = (),
    correction: bool = False,
) -> tuple[dict[str, FieldState], list[dict[str, Any]]]:
    """The new draft and the list of given fields that were replaced ({field, old, new})."""
    asked = set(asked)
    out: dict[str, FieldState] = {}
    changes: list[dict[str, Any]] = []
    for field in sorted(set(previous) | set(parsed)):
        old = previous.get(field, EMPTY)
        new = parsed.get(field, EMPTY)
        if new["code"] is None or new["code"] == old["code"]:
            out[field] = old
        elif old["code"] is None or field in asked:
            out[field] = new
        elif correction and new["method"] != "history":
            # A code the history only inferred from other words ("모터" seen beside urgent jobs)
            # was not said: it does not replace what the technician gave.
            out[field] = new
            changes.append({"field": field, "old": old["code"], "new": new["code"]})
        else:
            out[field] = old
    return out, changes
