"""Card controls to correct a field and a "why" toggle with each field's provenance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from bot.cards import slack_blocks, teams_card
from bot.cards_fields import (
    FIX_VERB,
    set_options,
    slack_field_blocks,
    slack_fix,
    teams_field_controls,
    teams_fixes,
)
from tests.bot.support import walk as _walk
from tests.parsing.test_history import ENTRIES

RESPONSE: dict[str, Any] = {
    "kind": "answer",
    "lang": "en",
    "answer_id": "a1",
    "thread": "t1",
    "query": "pump gunked up again",
    "reply": "ok",
    "notification": {
        "equipment": {
            "code": "E-PMP",
            "name_ko": "펌프",
            "name_en": "Pump",
            "confidence": 0.93,
            "method": "exact",
            "surface": "pump",
        },
        "failure_mode": {
            "code": "F-PLG",
            "name_ko": "막힘",
            "name_en": "Plugged",
            "confidence": 0.81,
            "method": "history",
            "surface": "gunked up",
        },
    },
}


@pytest.fixture(autouse=True)
def _no_options_left_behind() -> Iterator[None]:
    yield
    set_options([])  # other card tests render cards without the catalog's options


def test_teams_card_offers_codes_by_name_and_a_why_toggle() -> None:
    set_options(ENTRIES)
    card = teams_card(RESPONSE)
    nodes = _walk(card)
    sets = {n["id"]: n for n in nodes if n.get("type") == "Input.ChoiceSet"}
    assert set(sets) == {"fix_location", "fix_equipment", "fix_failure_mode", "fix_priority"}
    assert sets["fix_equipment"]["value"] == "E-PMP"
    assert {"title": "Motor (E-MTR)", "value": "E-MTR"} in sets["fix_equipment"]["choices"]
    toggles = [n for n in nodes if n.get("type") == "Action.ToggleVisibility"]
    targets = {t for n in toggles for t in n["targetElements"]}
    hidden = {n["id"]: n for n in nodes if n.get("isVisible") is False}
    assert targets == set(hidden)
    why = next(n for i, n in hidden.items() if i.startswith("why"))
    facts = {f["title"]: f["value"] for f in _walk(why) if "title" in f and "value" in f}
    assert "history" in facts["Failure mode"] and "gunked up" in facts["Failure mode"]
    assert "fairly sure" in facts["Failure mode"] and "%" not in json.dumps(card)
    fix = next(n for n in nodes if n.get("type") == "Action.Execute" and n["verb"] == FIX_VERB)
    assert fix["data"]["answer_id"] == "a1"
    assert teams_fixes({**fix["data"], "fix_equipment": "E-MTR", "fix_priority": ""}) == {
        "equipment": "E-MTR"
    }


def test_slack_blocks_have_a_select_per_field_and_the_provenance() -> None:
    set_options(ENTRIES)
    blocks = slack_blocks(RESPONSE)
    assert blocks == [b for b in blocks]  # still a list of blocks
    ours = slack_field_blocks(RESPONSE)
    assert all(b in blocks for b in ours)
    selects = [e for b in ours if b["type"] == "actions" for e in b["elements"]]
    assert [s["type"] for s in selects] == ["static_select"] * 4
    equipment = next(s for s in selects if s["action_id"].endswith("equipment"))
    assert equipment["initial_option"]["value"] == "E-PMP"
    context = next(b for b in ours if b["type"] == "context")
    assert "gunked up" in context["elements"][0]["text"]
    block_id = next(b["block_id"] for b in ours if b["type"] == "actions")
    action = {"action_id": equipment["action_id"], "selected_option": {"value": "E-TNK"}}
    assert slack_fix(action, block_id) == ("a1", "t1", "equipment", "E-TNK")
    assert slack_fix({"action_id": "pmark_vote_up"}, block_id) is None


def test_questions_carry_no_correction_controls() -> None:
    set_options(ENTRIES)
    assert teams_field_controls({**RESPONSE, "kind": "question"}) == []


async def test_a_fix_on_the_card_is_stored_and_changes_the_next_parse(tmp_path: Path) -> None:
    from agent.context import PMark
    from bot.feedback import FeedbackService
    from bot.field_fixes import FieldFixes

    ctx = PMark(Settings(data_dir=tmp_path, _env_file=None))  # type: ignore[call-arg]
    ctx.repo.upsert_catalog(ENTRIES)
    feedback = FeedbackService(ctx.repo, [])
    feedback.remember(RESPONSE)
    text = RESPONSE["query"]
    assert ctx.parser.parse(text).code("equipment") == "E-PMP"
    fixed = await FieldFixes(ctx, feedback).fix("U42", "a1", "t1", {"equipment": "E-TNK"})
    assert fixed is not None
    assert fixed["notification"]["equipment"]["code"] == "E-TNK"
    assert fixed["notification"]["equipment"]["method"] == "correction"
    assert [(c.user_id, c.old_code, c.new_code) for c in ctx.corrections.all()] == [
        ("U42", "E-PMP", "E-TNK")
    ]
    assert ctx.parser.parse(text).code("equipment") == "E-TNK"
