"""followup: '두 번째 건 자세히' / 'show the 2nd one' about the last answer."""

from __future__ import annotations

from typing import Any

from agent.answer import detail_text
from agent.intent import followup_index
from agent.state import TurnState


def followup(state: TurnState) -> dict[str, Any]:
    """Details of one recommendation of the last answer."""
    lang = state.get("lang", "ko")
    last = state.get("last_answer") or {}
    recs = last.get("recommendations") or []
    index = followup_index(state.get("user_input", "")) or 1
    if not recs:
        reply = (
            "아직 보여드린 사례가 없어요. "
            "설비와 증상을 적어 주시면 비슷한 과거 사례를 찾아 드릴게요."
            if lang == "ko"
            else "There is nothing to follow up yet: tell me the equipment and what is wrong, "
            "and I'll find similar past cases."
        )
        shown = []
    elif 1 <= index <= len(recs):
        rec = recs[index - 1]
        reply = detail_text(rec, index, lang)
        # The card numbers the case as the answer did ("2번 사례" is case 2, not 1).
        shown = [{**rec, "rank": index}]
    else:
        reply = (
            f"{index}번 사례는 없습니다. 지난 답변에는 {len(recs)}건이 있었습니다."
            if lang == "ko"
            else f"There is no case {index}; the last answer had {len(recs)}."
        )
        shown = []
    response = {
        "kind": "detail",
        "answer_id": last.get("answer_id", ""),
        "reply": reply,
        "lang": lang,
        "notification": last.get("notification"),
        "missing": [],
        "recommendations": shown,
        "degraded": [],
        "query": last.get("query", ""),
    }
    return {"response": response}
