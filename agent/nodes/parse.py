"""parse: the catalog parser on the user's text, sharpened by the LLM when one is configured."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from adapters.llm.base import LLMError
from adapters.sql.repository import NormalizationDecision
from agent.cpu import on_loop
from agent.deps import AgentDeps
from agent.parsing.parser import ParseResult
from agent.state import FieldState, TurnState

log = logging.getLogger(__name__)
FIELDS = ("location", "equipment", "failure_mode", "priority", "activity")
# Below this the catalog parser's own answer yields to a valid LLM answer.
_TRUST = 0.9


def fields_of(result: ParseResult) -> dict[str, FieldState]:
    """Parser fields as state."""
    return {
        f: FieldState(
            code=v.code, confidence=round(v.confidence, 3), method=v.method, surface=v.surface
        )
        for f, v in result.fields.items()
    }


async def parse(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """Parse the text; any LLM failure falls back to the catalog parser within the turn."""
    text = state.get("user_input", "")
    if on_loop(text):
        result = deps.parser.parse(text)
    else:
        result = await asyncio.to_thread(deps.parser.parse, text)
    fields = fields_of(result)
    degraded = list(state.get("degraded", []))
    if deps.llm is not None:
        try:
            fields = await _with_llm(deps, text, fields)
        except (LLMError, TimeoutError) as exc:
            log.warning("LLM parsing failed, catalog parser used: %s", type(exc).__name__)
            degraded.append("llm")
    _review(deps, fields)
    return {"parsed": fields, "parsed_tag": result.equipment_tag, "degraded": degraded}


def _review(deps: AgentDeps, fields: dict[str, FieldState]) -> None:
    """Every normalization of the turn (catalog, history, vector, LLM) goes to the review log."""
    if deps.review_log is None:
        return
    # Queued, not written here: a slow or absent database never delays an answer.
    deps.review_log.add(
        [
            NormalizationDecision(f, v["surface"], v["code"], v["confidence"], v["method"])
            for f, v in fields.items()
            if v["code"] is not None
        ]
    )


async def _with_llm(
    deps: AgentDeps, text: str, fields: dict[str, FieldState]
) -> dict[str, FieldState]:
    from agent.parsing.llm_extract import llm_extract

    catalog = list(deps.catalog.values())
    extracted = await asyncio.wait_for(
        llm_extract(deps.llm, text, catalog),  # type: ignore[arg-type]
        timeout=deps.settings.llm_timeout,
    )
    merged = dict(fields)
    for field, (code, confidence) in extracted.items():
        if field not in merged or code is None or (field, code) not in deps.catalog:
            continue
        current = merged[field]
        if current["code"] is None or current["confidence"] < _TRUST:
            merged[field] = FieldState(
                code=code, confidence=round(min(confidence, 0.89), 3), method="llm", surface=""
            )
    return merged
