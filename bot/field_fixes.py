"""A card's field correction, from click to knowledge: stored with who made it, taught to the
parser at once, and shown on the re-rendered card."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agent.parsing.corrections import CorrectionError, record_correction
from bot.cards_fields import field_options
from bot.feedback import FeedbackService

if TYPE_CHECKING:
    from agent.context import PMark

log = logging.getLogger(__name__)


class FieldFixes:
    """Applies corrections chosen on a card to the stored knowledge and to the answer."""

    def __init__(self, ctx: PMark, feedback: FeedbackService) -> None:
        self.ctx = ctx
        self.feedback = feedback
        self._options: tuple[object, dict[str, list[tuple[str, str, str]]]] | None = None

    def options(self) -> dict[str, list[tuple[str, str, str]]]:
        """The codes a card offers per field: the catalog the parser reads, rebuilt with it."""
        parser = self.ctx.parser  # a catalog import replaces it
        if self._options is None or self._options[0] is not parser:
            self._options = (parser, field_options(parser.entries))
        return self._options[1]

    async def fix(
        self, user_id: str, answer_id: str, thread: str, chosen: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """Record every changed field; the answer with the corrected fields, or None if unknown."""
        response = await self.feedback.answer(answer_id, thread)
        if response is None:
            return None
        view = dict(response.get("notification") or {})
        text = str(response.get("query") or "")
        catalog = {(e.category, e.code): e for e in self.ctx.catalog()}
        for field, code in chosen.items():
            old = (view.get(field) or {}).get("code")
            if code == old or (field, code) not in catalog:
                continue
            try:
                await asyncio.to_thread(
                    record_correction, self.ctx, user_id, field, text, old, code
                )
            except CorrectionError as exc:
                log.warning("correction refused: %s", exc)
                continue
            entry = catalog[(field, code)]
            view[field] = {
                "code": code,
                "name_ko": entry.name_ko,
                "name_en": entry.name_en,
                "confidence": 1.0,
                "method": "correction",
                "surface": user_id,
            }
        updated = {**response, "notification": view}
        self.feedback.remember(updated)
        return updated


def options_of(fixes: FieldFixes | None) -> dict[str, list[tuple[str, str, str]]]:
    """The codes a card offers to correct its fields; none where corrections are not set up."""
    return fixes.options() if fixes is not None else {}
