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
    assert "제2공장 (Factory 2)" in text and "90%" in text and "P-101A" in text
    assert text.count('"type": "Action.Execute"') == 2 * 10 + 1  # ten recs, thumbs, file
    assert "👍 도움이 됨으로 기록" in text and "언어 모델" in text
    assert card["actions"][0]["verb"] == "pmark.file"
    filed = teams_card(ANSWER, None, "PM1")
    assert "actions" not in filed and "PM1" in json.dumps(filed)
    question = json.dumps(teams_card(QUESTION), ensure_ascii=False)
    assert '"value": "Factory 1"' in question and '"value": "Emergency"' in question
    assert "pmark.file" not in question


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
