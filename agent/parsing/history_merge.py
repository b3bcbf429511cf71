"""One confidence per field from catalog matches and the history's evidence."""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING

from adapters.domain import CatalogEntry
from agent.parsing.history import FIELDS, HistoryModel

if TYPE_CHECKING:
    from agent.parsing.parser import FieldValue

# How much a catalog match counts, in nats, per unit of its confidence: an exact name (~0.95)
# multiplies its code's odds by ~10; strong history evidence against it still wins.
CATALOG_WEIGHT = 2.4
# A generic code the catalog found ("pump") lends part of its weight to its own children.
CHILD_SHARE = 0.6
# Below this posterior the history's guess is not put on a field the catalog left empty.
FILL_FLOOR = 0.15


def combine_history(
    history: HistoryModel,
    text: str,
    fields: MutableMapping[str, FieldValue],
    by_key: Mapping[tuple[str, str], CatalogEntry],
) -> None:
    """Fold the history's evidence (and remembered corrections) into the catalog's fields."""
    from agent.parsing.parser import FieldValue

    evidence = history.evidence(text)
    for field in FIELDS:
        recalled = history.recall(text, field)
        if recalled is not None and (field, recalled) in by_key:
            fields[field] = FieldValue(recalled, 0.97, "correction", text.strip()[:60])
            continue
        ev = evidence.get(field)
        if ev is None:
            continue
        current = fields[field]
        posterior = {c: p for c, p in ev.posterior.items() if (field, c) in by_key}
        if not posterior:
            continue
        floor = min(posterior.values()) * 0.5
        logits = {c: math.log(p) for c, p in posterior.items()}
        if current.code is not None:
            bonus = CATALOG_WEIGHT * current.confidence
            logits[current.code] = logits.get(current.code, math.log(floor)) + bonus
            for c in logits:
                if _descends(by_key, field, c, current.code):
                    logits[c] += CHILD_SHARE * bonus
        top = max(logits.values())
        norm = sum(math.exp(v - top) for v in logits.values())
        best = max(logits, key=lambda c: logits[c])
        confidence = 1.0 / norm
        if best == current.code:
            fields[field] = FieldValue(
                best, max(confidence, current.confidence), current.method, current.surface, ev.words
            )
        elif current.code is not None or confidence >= FILL_FLOOR:
            surface = " ".join(ev.words[:2])
            fields[field] = FieldValue(best, confidence, "history", surface, ev.words)


def _descends(
    by_key: Mapping[tuple[str, str], CatalogEntry], field: str, code: str, ancestor: str
) -> bool:
    seen: set[str] = set()
    entry = by_key.get((field, code))
    while entry is not None and entry.parent and entry.parent not in seen:
        if entry.parent == ancestor:
            return True
        seen.add(entry.parent)
        entry = by_key.get((field, entry.parent))
    return False
