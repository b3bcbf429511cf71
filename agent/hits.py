"""Search hits as they travel in the checkpointed state, from retrieve to recommend.

A turn checkpoints its hits twice (the retrieve task's write and the blob of the new state), 60
of them: as dicts they were 25 KB a turn that PostgreSQL compressed on every write. Rows in a
fixed field order, without the per-hit explanation (ranking writes its own), are about half.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

from adapters.search.base import SearchHit

# Field order of a row; the explanation stays out (only `pmark search` prints it).
ROW_FIELDS = tuple(f.name for f in fields(SearchHit) if f.name != "explanation")
# One C-level call per hit: building rows and hits field by field cost ~0.8 ms a turn.
_ROW = attrgetter(*ROW_FIELDS)


def hit_row(hit: Any) -> list[Any]:
    """A hit as a state row (its datetime kept: the checkpoint serializer stores it as such)."""
    return list(_ROW(hit))


class HitRow(NamedTuple):
    """A state row read back: what ranking needs of a hit, without building a SearchHit."""

    itemno: str
    score: float
    bm25: float
    vector: float
    title: str
    resolution: str
    location: str | None
    equipment: str | None
    failure_mode: str | None
    priority: str | None
    created_at: datetime | None


assert HitRow._fields == ROW_FIELDS, "a row's fields are a SearchHit's, in order"


def hit_from_state(value: list[Any] | dict[str, Any]) -> HitRow:
    """A state row (or a dict from a checkpoint of an earlier version) as a hit again."""
    if isinstance(value, dict):
        value = [value.get(name) for name in ROW_FIELDS]
    row = HitRow._make(value)
    if isinstance(row.created_at, str):  # rows of earlier versions held ISO text
        return row._replace(created_at=datetime.fromisoformat(row.created_at))
    return row
