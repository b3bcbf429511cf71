"""Card rendering: every response shape validates with Microsoft's adaptivecards library; Slack
blocks stay inside Block Kit's limits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.cards import failure_response, slack_blocks, teams_card

VALIDATOR = Path(__file__).resolve().parents[2] / "scripts" / "validate_card.js"


def _field(code: str, ko: str, en: str, conf: float = 0.9) -> dict[str, Any]:
    return {"code": code, "name_ko": ko, "name_en": en, "confidence": conf}


def _rec(i: int) -> dict[str, Any]:
    return {
        "itemno": f"N{i:05d}",
        "title": f"펌프 누유 <#{i}> & more",
        "resolution": "씰 교체" * (1 + i),
        "score": 0.9 - i / 100,
        "why": "same equipment",
    }


ANSWER: dict[str, Any] = {
    "kind": "answer",
    "answer_id": "a1",
    "thread": "teams:19:x",
    "reply": "📋 접수 초안: …",
    "lang": "ko",
    "notification": {
        "location": _field("F2", "제2공장", "Factory 2"),
        "equipment": _field("PMP", "펌프", "Pump", 0.77),
        "failure_mode": _field("LEAK", "누설", "Leak"),
        "priority": _field("1", "긴급", "Emergency", 1.0),
        "activity": None,
        "equipment_tag": "P-101A",
    },
    "missing": [],
    "recommendations": [_rec(i) for i in range(12)],
    "degraded": ["llm"],
    "query": "2공장 펌프 누유",
}
QUESTION: dict[str, Any] = {
    "kind": "question",
    "answer_id": "q1",
    "reply": "Which plant or area?",
    "lang": "en",
    "fields": ["location", "priority"],
    "choices": {
        "location": [{"code": "F1", "name_ko": "제1공장", "name_en": "Factory 1"}],
        "priority": [
            {"code": str(p), "name_ko": k, "name_en": e}
            for p, k, e in ((1, "긴급", "Emergency"), (2, "높음", "High"))
        ],
    },
    "notification": {"equipment": _field("PMP", "펌프", "Pump"), "equipment_tag": None},
    "missing": ["location", "priority"],
    "recommendations": [],
    "degraded": [],
}


def shapes() -> list[tuple[dict[str, Any], dict[str, int] | None, str | None]]:
    return [
        (ANSWER, None, None),
        (ANSWER, {"N00000": 1, "N00001": -1}, "PM202601010001"),
        (
            {**ANSWER, "lang": "en", "reply": "LLM wrote this [N00001]", "recommendations": []},
            None,
            None,
        ),
        (QUESTION, None, None),
        (failure_response("t1", "pump leak", "th"), None, None),
        ({"kind": "prompt", "reply": "무엇이 문제인지 적어 주세요.", "lang": "ko"}, None, None),
    ]


@pytest.fixture(scope="module")
def validate_cards() -> Any:
    default = Path.home() / ".cache" / "pmark" / "npm" / "node_modules" / "adaptivecards"
    package = Path(os.environ.get("PMARK_ADAPTIVECARDS_DIR", default))
    node = shutil.which("node")
    if node is None or not (package / "dist" / "adaptivecards.js").is_file():
        message = "node or adaptivecards missing: run scripts/install_card_tools.sh"
        if os.environ.get("PMARK_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)

    def run(cards: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
        proc = subprocess.run(
            [node, str(VALIDATOR)],
            input=json.dumps(cards),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PMARK_ADAPTIVECARDS_DIR": str(package)},
        )
        assert proc.returncode in (0, 1), proc.stderr
        return [r["errors"] for r in json.loads(proc.stdout)]

    return run


def test_every_card_validates(validate_cards: Any) -> None:
    cards = [teams_card(r, v, f) for r, v, f in shapes()]
    for card, errors in zip(cards, validate_cards(cards), strict=True):
        assert errors == [], (errors, card["body"][:2])


def test_card_content() -> None:
    card = teams_card(ANSWER, {"N00000": 1}, None)
    text = json.dumps(card, ensure_ascii=False)
    # Names in the card's language with the code; no confidence figures on a technician's card.
    assert "제2공장 (F2)" in text and "90%" not in text and "P-101A" in text
    assert text.count('"type": "Action.Execute"') == 2 * 10 + 1  # ten recs, thumbs, file
    assert "👍 도움이 됨으로 기록" in text and "언어 모델" in text
    assert card["actions"][0]["verb"] == "pmark.file"
    filed = teams_card(ANSWER, None, "PM1")
    assert "actions" not in filed and "PM1" in json.dumps(filed)
    question = teams_card(QUESTION)
    choices = [
        a
        for s in question["body"]
        if s["type"] == "ActionSet"
        for a in s["actions"]
        if a.get("verb") == "pmark.choice"
    ]
    assert {a["data"]["value"] for a in choices} == {"Factory 1", "Emergency", "High"}
    assert all(a["fallback"]["data"] == a["data"] for a in choices)
    assert "pmark.file" not in json.dumps(question) and "msteams" not in json.dumps(question)


def test_slack_blocks_within_limits() -> None:
    for response, votes, filed in shapes():
        blocks = slack_blocks(response, votes, filed)
        assert 0 < len(blocks) <= 50
        ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
        block_ids = [b["block_id"] for b in blocks if "block_id" in b]
        assert len(block_ids) == len(set(block_ids))
        for b in blocks:
            if b["type"] == "section" and "text" in b:
                assert len(b["text"]["text"]) <= 3000
            for e in b.get("elements", []):
                if e.get("type") == "button":
                    assert len(e["value"]) <= 2000 and len(e["text"]["text"]) <= 75
        assert all(i.startswith("pmark_") for i in ids)
    escaped = json.dumps(slack_blocks(ANSWER), ensure_ascii=False)
    assert "&lt;#1&gt; &amp; more" in escaped


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                found.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return found


def test_cards_stay_true() -> None:
    # Incomplete: no file button, the missing priority offered; complete: the button.
    incomplete = {
        **ANSWER,
        "notification": {**ANSWER["notification"], "priority": None},
        "missing": ["priority"],
        "choices": {"priority": QUESTION["choices"]["priority"]},
    }
    card = teams_card(incomplete)
    assert "actions" not in card
    assert [a["data"]["code"] for a in _actions(card) if a.get("verb") == "pmark.choice"] == [
        "1",
        "2",
    ]
    assert not [b for b in slack_blocks(incomplete) if b.get("block_id") == "pmark_file"]
    # Superseded: no button acts any more (the score toggle stays); says so.
    closed = teams_card(QUESTION, closed="superseded")
    assert [a["type"] for a in _actions(closed)] == []
    assert "newer answer" in json.dumps(closed)
    superseded = teams_card(ANSWER, closed="superseded")
    assert {a["type"] for a in _actions(superseded)} == {"Action.ToggleVisibility"}
    slack_closed = slack_blocks(ANSWER, closed="superseded")
    assert not [b for b in slack_closed if b["type"] == "actions"]
    # Filed: the number, and no thumbs left.
    filed = teams_card(ANSWER, {"N00000": 1}, "PM1")
    assert not [a for a in _actions(filed) if a.get("verb") == "pmark.vote"]
    assert "👍 도움이 됨으로 기록" in json.dumps(filed, ensure_ascii=False)


def test_weak_matches_changes_and_numbers_are_said() -> None:
    weak = {**ANSWER, "weak": True, "recommendations": [{**_rec(1), "rank": 2}]}
    text = json.dumps(teams_card(weak), ensure_ascii=False)
    assert "비슷한 과거 사례를 찾지 못했어요" in text and "과거 유사 사례와 조치" not in text
    assert '"2. [N00001]' in text
    assert "비슷한 과거 사례를 찾지 못했어요" in json.dumps(slack_blocks(weak), ensure_ascii=False)
    changed = {
        **ANSWER,
        "lang": "en",
        "changes": [
            {
                "field": "equipment",
                "old": "CMP",
                "new": "PMP",
                "old_names": ["압축기", "Compressor"],
                "new_names": ["펌프", "Pump"],
            }
        ],
    }
    for rendered in (teams_card(changed), slack_blocks(changed)):
        assert "✏️ Equipment changed: Compressor → Pump" in json.dumps(rendered, ensure_ascii=False)


def test_reasons_in_words_and_the_score_behind_a_toggle() -> None:
    rec = {
        **_rec(1),
        "reasons": ["equipment", "failure_mode", "location"],
        "location_names": ["2공장", "Plant 2"],
    }
    response = {**ANSWER, "recommendations": [rec]}
    card = teams_card(response)
    text = json.dumps(card, ensure_ascii=False)
    assert "같은 설비 · 같은 고장 유형 · 2공장" in text and "same equipment" not in text
    english = json.dumps(teams_card({**response, "lang": "en"}), ensure_ascii=False)
    assert "same equipment · same failure mode · Plant 2" in english
    score = [b for c in card["body"] if c["type"] == "Container" for b in c["items"]]
    hidden = [b for b in score if b.get("id") == "pmark-score-1"]
    assert hidden and hidden[0]["isVisible"] is False
    toggles = [a for a in _actions(card) if a["type"] == "Action.ToggleVisibility"]
    assert toggles[0]["targetElements"] == ["pmark-score-1"]
    assert "Score" not in json.dumps(slack_blocks({**response, "lang": "en"}))


def test_new_card_states_validate(validate_cards: Any) -> None:
    weak = {
        **ANSWER,
        "weak": True,
        "changes": [{"field": "equipment", "old": "CMP", "new": "PMP"}],
        "recommendations": [{**_rec(1), "rank": 2, "reasons": ["equipment"]}],
    }
    cards = [
        teams_card(weak),
        teams_card(ANSWER, closed="superseded"),
        teams_card(QUESTION, closed="superseded"),
        teams_card({**ANSWER, "choices": QUESTION["choices"], "missing": ["priority"]}),
    ]
    for card, errors in zip(cards, validate_cards(cards), strict=True):
        assert errors == [], (errors, card["body"][:2])
