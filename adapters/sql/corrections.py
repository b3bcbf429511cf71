"""Corrections of parsed fields, kept as knowledge: evidence for the parser and parse gold."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from adapters.sql.models import FieldCorrectionRow


@dataclass(frozen=True)
class FieldCorrection:
    """Who changed which field of which text from what to what."""

    user_id: str
    category: str
    text: str
    old_code: str | None
    new_code: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


class CorrectionStore:
    """The field_corrections table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, c: FieldCorrection) -> int:
        """Store one correction; its id."""
        with Session(self.engine) as s, s.begin():
            row = FieldCorrectionRow(
                created_at=c.created_at,
                user_id=c.user_id[:200],
                category=c.category,
                text=c.text,
                old_code=c.old_code,
                new_code=c.new_code,
            )
            s.add(row)
            s.flush()
            return int(row.id)

    def since(self, after_id: int) -> list[tuple[int, FieldCorrection]]:
        """Corrections with an id above `after_id`, oldest first, with their ids."""
        with Session(self.engine) as s:
            rows = s.execute(
                select(FieldCorrectionRow)
                .where(FieldCorrectionRow.id > after_id)
                .order_by(FieldCorrectionRow.id)
            ).scalars()
            return [
                (
                    int(r.id),
                    FieldCorrection(
                        r.user_id, r.category, r.text, r.old_code, r.new_code, r.created_at
                    ),
                )
                for r in rows
            ]

    def all(self) -> list[FieldCorrection]:
        """Every correction, oldest first (a later one about the same text wins when replayed)."""
        return [c for _, c in self.since(0)]
