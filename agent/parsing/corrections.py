"""Corrections become knowledge: a person's fix of a parsed field is stored, taught at once,
and kept as parse gold ("corrected in use") for the next evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.sql.corrections import FieldCorrection
from agent.parsing.history import FIELDS

if TYPE_CHECKING:
    from agent.context import PMark

SCENARIO = "corrected in use"
# How many of the latest stored corrections are read again on every sync (see below).
RECHECK_TAIL = 50


class CorrectionError(ValueError):
    """A correction that names no field or no code of the catalog."""


@dataclass(frozen=True)
class GoldRow:
    """One corrected field of one text, as the evaluation scores it."""

    text: str
    category: str
    code: str
    scenario: str = SCENARIO


def record_correction(
    ctx: PMark,
    user_id: str,
    category: str,
    text: str,
    old_code: str | None,
    new_code: str,
) -> FieldCorrection:
    """Store who changed which field of a text to which code; the parser learns it at once."""
    if category not in FIELDS:
        raise CorrectionError(f"not a correctable field: {category!r}")
    known = {e.code for e in ctx.catalog() if e.category == category}
    if new_code not in known:
        raise CorrectionError(f"{new_code!r} is not a {category} code of the catalog")
    if not text.strip():
        raise CorrectionError("a correction needs the text that was parsed")
    correction = FieldCorrection(user_id, category, text, old_code, new_code)
    cid = ctx.corrections.add(correction)
    parser = ctx.__dict__.get("parser")  # a parser already built learns now; a new one reads the DB
    if parser is not None and parser.history is not None:
        parser.history.correct(text, category, new_code)
        parser.history.taught.add(cid)
    return correction


def learn_new_corrections(ctx: PMark) -> int:
    """Teach the built parser what was corrected elsewhere (another worker or replica) since it
    last looked; how many corrections it learned."""
    parser = ctx.__dict__.get("parser")
    if parser is None or parser.history is None:
        return 0
    history = parser.history
    # Ids are handed out before commit: a transaction that got a lower id may commit after a
    # higher one was read. Re-reading a short tail (the taught set drops repeats) catches it.
    after = max(history.taught, default=0) - RECHECK_TAIL
    learned = 0
    for cid, c in ctx.corrections.since(max(after, 0)):
        if cid in history.taught:
            continue
        history.correct(c.text, c.category, c.new_code)
        history.taught.add(cid)
        learned += 1
    return learned


def corrected_gold(ctx: PMark) -> list[GoldRow]:
    """The latest correction of every (text, field), for the parse evaluation."""
    latest: dict[tuple[str, str], GoldRow] = {}
    for c in ctx.corrections.all():
        latest[(" ".join(c.text.split()), c.category)] = GoldRow(c.text, c.category, c.new_code)
    return list(latest.values())
