"""Card controls to correct a field and a "why" toggle with each field's provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters.settings import Settings
from bot.cards import slack_blocks, teams_card
from bot.cards_fields import (
    FIX_VERB,
    field_options,
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


OPTIONS = field_options(ENTRIES)


def test_teams_card_offers_codes_by_name_and_a_why_toggle() -> None:
    card = teams_card(RESPONSE, options=OPTIONS)
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
    blocks = slack_blocks(RESPONSE, options=OPTIONS)
    ours = slack_field_blocks(RESPONSE, OPTIONS)
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
    assert teams_field_controls({**RESPONSE, "kind": "question"}, OPTIONS) == []
    assert not [n for n in _walk(teams_card(RESPONSE)) if n.get("type") == "Input.ChoiceSet"]


def test_a_long_catalog_is_cut_to_a_card_sized_list_that_keeps_the_parsed_code() -> None:
    many = {"equipment": [(f"E-{i:04d}", f"설비 {i}", f"Unit {i}") for i in range(900)]}
    response = {**RESPONSE, "notification": {"equipment": {"code": "E-0777", "confidence": 0.9}}}
    sets = [n for n in _walk(teams_card(response, options=many)) if n.get("id") == "fix_equipment"]
    values = [c["value"] for c in sets[0]["choices"]]
    assert 10 <= len(values) <= 100 and "E-0777" in values and sets[0]["value"] == "E-0777"
    select = next(
        e
        for b in slack_field_blocks(response, many)
        if b["type"] == "actions"
        for e in b["elements"]
    )
    assert len(select["options"]) == 100 and select["initial_option"]["value"] == "E-0777"
    assert len(json.dumps(teams_card(response, options=many))) < 28_000


def test_cards_of_a_long_catalog_each_keep_their_own_parsed_code_and_language() -> None:
    # The rendered choice lists are kept between cards: each card still leads with its own code.
    many = {"equipment": [(f"E-{i:04d}", f"설비 {i}", f"Unit {i}") for i in range(900)]}

    def choices(code: str, lang: str) -> list[dict[str, str]]:
        response = {
            **RESPONSE,
            "lang": lang,
            "notification": {"equipment": {"code": code, "confidence": 0.9}},
        }
        card = teams_card(response, options=many)
        return next(n for n in _walk(card) if n.get("id") == "fix_equipment")["choices"]

    assert choices("E-0777", "en")[0] == {"title": "Unit 777 (E-0777)", "value": "E-0777"}
    assert choices("E-0123", "en")[0] == {"title": "Unit 123 (E-0123)", "value": "E-0123"}
    assert choices("E-0777", "ko")[0] == {"title": "설비 777 (E-0777)", "value": "E-0777"}
    assert choices("E-0777", "en")[0]["value"] == "E-0777"


def test_a_reimported_catalog_renames_the_choices_of_the_next_card() -> None:
    first = {"equipment": [("E-1", "펌프", "Pump")]}
    renamed = {"equipment": [("E-1", "원심 펌프", "Centrifugal pump")]}
    titles = []
    for options in (first, renamed):
        card = teams_card(RESPONSE, options=options)
        sets = [n for n in _walk(card) if n.get("id") == "fix_equipment"]
        titles.append(sets[0]["choices"][0]["title"])
    assert titles == ["Pump (E-1)", "Centrifugal pump (E-1)"]


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


def test_a_reimported_catalog_is_offered_on_the_next_card(tmp_path: Path) -> None:
    from agent.context import PMark
    from bot.feedback import FeedbackService
    from bot.field_fixes import FieldFixes

    ctx = PMark(Settings(data_dir=tmp_path, _env_file=None))  # type: ignore[call-arg]
    ctx.repo.upsert_catalog(ENTRIES)
    fixes = FieldFixes(ctx, FeedbackService(ctx.repo, []))
    assert "E-PMP" in [c for c, _, _ in fixes.options()["equipment"]]
    csv = tmp_path / "catalog.csv"
    csv.write_text(
        "category,code,name_ko,name_en,synonyms,parent\nequipment,E-NEW,신설비,New unit,,\n",
        encoding="utf-8",
    )
    ctx.import_catalog(csv)
    assert "E-NEW" in [c for c, _, _ in fixes.options()["equipment"]]
