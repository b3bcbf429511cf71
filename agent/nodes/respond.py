"""respond: the answer, written by the LLM from the retrieved cases only, or from a template."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from adapters.llm.base import LLMError
from agent.answer import answer_text, change_views, notification_view
from agent.deps import AgentDeps
from agent.nodes.clarify import CHOICE_FIELDS
from agent.state import TurnState

log = logging.getLogger(__name__)
_ITEMNO_CITE = re.compile(r"\[([A-Za-z0-9_\-]{3,64})\]")


def weak_match(recs: list[dict[str, Any]], threshold: float, both_known: bool) -> bool:
    """Whether no case is a similar past case (docs/weak-match.md): with the equipment and the
    failure known, none shares both; otherwise even the best scores under the measured
    threshold."""
    if not recs:
        return False
    if both_known:
        return not any({"equipment", "failure_mode"} <= set(r.get("reasons") or []) for r in recs)
    return float(recs[0].get("score", 0.0)) < threshold


def grounded(text: str, allowed: set[str]) -> bool:
    """True when every [itemno] the text cites is one of the retrieved cases."""
    return all(c in allowed for c in _ITEMNO_CITE.findall(text))


async def respond(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """Build the structured answer the channels render."""
    lang = state.get("lang", "ko")
    view = notification_view(deps, state.get("notification") or {}, state.get("equipment_tag"))
    recs = list(state.get("recommendations") or [])
    missing = list(state.get("missing") or [])
    degraded = list(state.get("degraded", []))
    both_known = bool(view.get("equipment")) and bool(view.get("failure_mode"))
    weak = weak_match(recs, deps.settings.weak_match_score, both_known)
    changes = change_views(deps, list(state.get("changes") or []))
    reply = answer_text(view, recs, missing, lang, degraded, weak, changes)
    if deps.llm is not None and recs and "llm" not in degraded:
        try:
            written = await asyncio.wait_for(
                _llm_answer(deps, view, recs, lang), timeout=deps.settings.llm_timeout
            )
            if written and grounded(written, {r["itemno"] for r in recs}):
                reply = written
            else:
                log.warning("LLM answer cited cases that were not retrieved; template used")
        except (LLMError, TimeoutError) as exc:
            log.warning("LLM answer failed, template used: %s", type(exc).__name__)
            degraded.append("llm")
    response = {
        "kind": "answer",
        "answer_id": state.get("turn_id", ""),
        "reply": reply,
        "lang": lang,
        "notification": view,
        "missing": missing,
        "recommendations": recs,
        "degraded": degraded,
        "query": state.get("report_text", ""),
        "report": state.get("report") or state.get("report_text", ""),
        "notes": list(state.get("notes") or []),
        "changes": changes,
        "weak": weak,
        # A missing field the technician can answer with a button, on the answer too.
        "choices": {f: deps.choices(f) for f in missing if f in CHOICE_FIELDS},
    }
    return {"response": response, "last_answer": response, "degraded": degraded}


async def _llm_answer(
    deps: AgentDeps, view: dict[str, Any], recs: list[dict[str, Any]], lang: str
) -> str:
    assert deps.llm is not None
    cases = "\n".join(f"[{r['itemno']}] {r['title']} -> {r['resolution']}" for r in recs)
    fields = ", ".join(
        f"{k}={v['name_en'] if v else '-'}" for k, v in view.items() if k != "equipment_tag"
    )
    system = (
        "You help plant maintenance technicians. Use ONLY the cases given. Cite each case "
        "you use as [itemno] exactly as given; never invent an itemno. Be brief. Answer in "
        + ("Korean." if lang == "ko" else "English.")
    )
    user = f"Notification: {fields}\nPast cases:\n{cases}\nSuggest what to check and do."
    return await deps.llm.chat_text(
        [{"role": "system", "content": system}, {"role": "user", "content": user}], max_tokens=300
    )
