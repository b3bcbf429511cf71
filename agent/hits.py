"""Search hits as they travel in the checkpointed state, from retrieve to recommend.

A turn checkpoints its hits twice (the retrieve task's write and the blob of the new state), 60
of them: as dicts they were 25 KB a turn that PostgreSQL compressed on every write. Rows in a
fixed field order, without the per-hit explanation (ranking writes its own), are about half.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from adapters.search.base import SearchHit

# Field order of a row; the explanation stays out (only `pmark search` prints it).
ROW_FIELDS = tuple(f.name for f in fields(SearchHit) if f.name != "explanation")


def hit_row(hit: Any) -> list[Any]:
    """A hit as a state row."""
    row = [getattr(hit, name) for name in ROW_FIELDS]
    created = ROW_FIELDS.index("created_at")
    if row[created] is not None and not isinstance(row[created], str):
        row[created] = row[created].isoformat()
    return row


def hit_from_state(value: list[Any] | dict[str, Any]) -> SearchHit:
    """A state row (or a dict from a checkpoint of an earlier version) as a hit again."""
    data = dict(value) if isinstance(value, dict) else dict(zip(ROW_FIELDS, value, strict=True))
    data.setdefault("explanation", "")
    if isinstance(data.get("created_at"), str):
        data["created_at"] = datetime.fromisoformat(data["created_at"])
    return SearchHit(**data)
