"""Card parts of the notification lifecycle: the duplicate warning at intake with its two choices
("same problem: add to it" / "different problem: file new"), and what a filed or added card
says. Teams Adaptive Card elements and Slack blocks; pure, like bot/cards.py which calls them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.sql.repository import utcnow
from agent.lifecycle_turn import duplicate_line
from bot.card_teams import execute, text_block

ADD_VERB = "pmark.add"
FILE_VERB = "pmark.file"
SLACK_ADD_ACTION = "pmark_dup_add"
SLACK_FILE_ACTION = "pmark_file"

_T: dict[str, tuple[str, str]] = {
    "dup_title": (
        "⚠️ 같은 설비에 아직 열린 접수 건이 있어요",
        "⚠️ This machine already has an open notification",
    ),
    "dup_ask": ("같은 문제인가요?", "Is it the same problem?"),
    "add": ("같은 문제: 기존 건에 추가", "Same problem: add to it"),
    "new": ("다른 문제: 새로 접수", "Different problem: file new"),
    "added": (
        "➕ {n}에 추가했어요 (새로 접수하지 않음)",
        "➕ Added to {n} (nothing new filed)",
    ),
    "close_hint": (
        "조치가 끝나면 이 스레드에 '완료: 조치 내용'이라고 적어 주세요.",
        "When it is fixed, reply 'done: what fixed it' in this thread.",
    ),
}


def _t(key: str, lang: str, **kw: str) -> str:
    ko, en = _T[key]
    return (ko if lang == "ko" else en).format(**kw)


def _lang(response: Mapping[str, Any]) -> str:
    return "en" if response.get("lang") == "en" else "ko"


def duplicates_of(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The open notifications the draft may repeat (as the agent found them)."""
    return [d for d in response.get("duplicates") or [] if isinstance(d, dict) and d.get("number")]


def _age_days(d: Mapping[str, Any], now: datetime) -> float:
    try:
        created = datetime.fromisoformat(str(d.get("created_at")))
    except ValueError:
        return 0.0
    return max(0.0, (now - created).total_seconds() / 86400)


def duplicate_lines(response: Mapping[str, Any]) -> list[str]:
    """'PM202612040001 (2일 전, aad-user-a)' per duplicate, in the response language."""
    lang, now = _lang(response), utcnow()
    return [duplicate_line(d, lang, _age_days(d, now)) for d in duplicates_of(response)]


def warns(response: Mapping[str, Any], filed: str | None) -> bool:
    """Whether the card leads with the duplicate warning."""
    return bool(duplicates_of(response)) and not filed and not response.get("added")


def add_data(response: Mapping[str, Any], number: str) -> dict[str, Any]:
    """Payload of 'same problem: add to it'."""
    return {
        "verb": ADD_VERB,
        "answer_id": str(response.get("answer_id", "")),
        "thread": str(response.get("thread", "")),
        "number": number,
    }


def new_data(response: Mapping[str, Any]) -> dict[str, Any]:
    """Payload of 'different problem: file new' (the file button, forced)."""
    return {
        "verb": FILE_VERB,
        "answer_id": str(response.get("answer_id", "")),
        "thread": str(response.get("thread", "")),
        "force": True,
    }


# Teams ------------------------------------------------------------------------------------


def teams_head(response: Mapping[str, Any], filed: str | None) -> list[dict[str, Any]]:
    """The duplicate warning, first on the card: number, age and who filed it."""
    if not warns(response, filed):
        return []
    lang = _lang(response)
    items = [text_block(_t("dup_title", lang), weight="Bolder", color="Warning")]
    items += [text_block(f"• {line}") for line in duplicate_lines(response)]
    items.append(text_block(_t("dup_ask", lang), isSubtle=True))
    return [{"type": "Container", "style": "warning", "items": items}]


def teams_actions(response: Mapping[str, Any], filed: str | None) -> list[dict[str, Any]]:
    """'Same problem' / 'different problem' instead of the plain file button."""
    if not warns(response, filed):
        return []
    lang = _lang(response)
    first = str(duplicates_of(response)[0]["number"])
    return [
        execute(_t("add", lang), add_data(response, first), style="positive"),
        execute(_t("new", lang), new_data(response)),
    ]


def teams_tail(response: Mapping[str, Any], filed: str | None) -> list[dict[str, Any]]:
    """After filing: how to close it; after adding: where the report went."""
    lang = _lang(response)
    if response.get("added"):
        return [
            text_block(_t("added", lang, n=str(response["added"])), color="Good", weight="Bolder")
        ]
    if filed:
        return [text_block(_t("close_hint", lang), isSubtle=True, size="Small")]
    return []


# Slack ------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _button(text: str, action_id: str, value: Mapping[str, Any], style: str | None = None) -> Any:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text[:75], "emoji": True},
        "action_id": action_id,
        "value": json.dumps(value, ensure_ascii=False, separators=(",", ":"))[:2000],
    }
    if style:
        button["style"] = style
    return button


def slack_head(response: Mapping[str, Any], filed: str | None) -> list[dict[str, Any]]:
    """The duplicate warning as the first blocks."""
    if not warns(response, filed):
        return []
    lang = _lang(response)
    lines = "\n".join(f"• {_escape(line)}" for line in duplicate_lines(response))
    return [_section(f"*{_t('dup_title', lang)}*\n{lines}\n_{_t('dup_ask', lang)}_")]


def slack_actions(response: Mapping[str, Any], filed: str | None) -> list[dict[str, Any]]:
    """The two choices replacing the file button."""
    if not warns(response, filed):
        return []
    lang = _lang(response)
    first = str(duplicates_of(response)[0]["number"])
    return [
        {
            "type": "actions",
            "block_id": "pmark_duplicate",
            "elements": [
                _button(_t("add", lang), SLACK_ADD_ACTION, add_data(response, first), "primary"),
                _button(_t("new", lang), SLACK_FILE_ACTION, new_data(response)),
            ],
        }
    ]


def slack_tail(response: Mapping[str, Any], filed: str | None) -> list[dict[str, Any]]:
    """After filing or adding, as in Teams."""
    lang = _lang(response)
    if response.get("added"):
        return [_section(f"*{_escape(_t('added', lang, n=str(response['added'])))}*")]
    if filed:
        return [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _t("close_hint", lang)}]}
        ]
    return []
