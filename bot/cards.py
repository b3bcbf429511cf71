"""Rendering an agent response dict as a Teams Adaptive Card (1.5) or Slack Block Kit. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agent.answer import LABELS, error_text
from bot import cards_lifecycle as lc

VOTE_VERB = "pmark.vote"
FILE_VERB = "pmark.file"
CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
DRAFT_FIELDS = ("location", "equipment", "failure_mode", "priority", "activity")
MAX_RECS = 10
SLACK_TEXT = 3000

_T: dict[str, tuple[str, str]] = {
    "draft": ("📋 접수 초안", "📋 Draft notification"),
    "recs": ("🔧 과거 유사 사례와 조치", "🔧 Similar past cases and fixes"),
    "no_recs": ("유사한 과거 사례를 찾지 못했습니다.", "No similar past case found."),
    "missing": ("❔ 아직 모르는 항목", "❔ Still missing"),
    "degraded": (
        "⚠️ 일부 기능이 제한된 상태로 답했습니다",
        "⚠️ Answered with some parts unavailable",
    ),
    "file": ("📝 이 내용으로 접수", "📝 File this notification"),
    "filed": ("✅ 접수되었습니다", "✅ Filed as"),
    "voted_up": ("👍 도움이 됨으로 기록", "👍 recorded as helpful"),
    "voted_down": ("👎 도움 안 됨으로 기록", "👎 recorded as not helpful"),
    "fix": ("조치", "Fix"),
    "score": ("점수", "Score"),
    "confidence": ("신뢰도", "confidence"),
    "helpful": ("도움이 됨", "Helpful"),
    "not_helpful": ("도움 안 됨", "Not helpful"),
}
_DEGRADED_PARTS: dict[str, tuple[str, str]] = {
    "llm": ("언어 모델 없이 템플릿으로 답함", "no language model: templated answer"),
    "search": ("검색 서버 문제: 일부 사례만 검색", "search trouble: partial case search"),
    "vector": ("벡터 검색 없이 키워드로만 검색", "keyword search only"),
    "database": ("데이터베이스 문제", "database trouble"),
    "error": ("처리 중 오류", "an error while handling the message"),
    "search-fallback": (
        "검색 서버 대신 내장 색인으로 검색",
        "search server down: answered from the built-in index",
    ),
}


def _t(key: str, lang: str) -> str:
    ko, en = _T[key]
    return ko if lang == "ko" else en


def lang_of(response: Mapping[str, Any]) -> str:
    """The response language, 'ko' or 'en'."""
    return "en" if response.get("lang") == "en" else "ko"


def degraded_note(parts: list[str], lang: str) -> str:
    """A clear one-line note about what was unavailable."""
    names = []
    for part in parts:
        ko, en = _DEGRADED_PARTS.get(part, (part, part))
        names.append(ko if lang == "ko" else en)
    return f"{_t('degraded', lang)}: {', '.join(names)}"


def field_value(value: Mapping[str, Any] | None, lang: str) -> str:
    """'펌프 (Pump) · 93%' for a field of the notification view."""
    if not value:
        return "-"
    main = value.get("name_ko") if lang == "ko" else value.get("name_en")
    other = value.get("name_en") if lang == "ko" else value.get("name_ko")
    main = str(main or value.get("code") or "-")
    text = f"{main} ({other})" if other and other != main else main
    confidence = value.get("confidence")
    if isinstance(confidence, int | float):
        text += f" · {_t('confidence', lang)} {round(float(confidence) * 100)}%"
    return text


def draft_lines(response: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of every known field of the draft notification."""
    lang = lang_of(response)
    view = response.get("notification") or {}
    labels = LABELS[lang]
    lines = [(labels[f], field_value(view.get(f), lang)) for f in DRAFT_FIELDS if view.get(f)]
    if view.get("equipment_tag"):
        lines.append((labels["equipment_tag"], str(view["equipment_tag"])))
    return lines


def is_template(reply: str) -> bool:
    """Whether the reply is the templated answer (already shown by the card's structure)."""
    return reply.startswith("📋")


def vote_data(response: Mapping[str, Any], itemno: str, vote: int) -> dict[str, Any]:
    """The payload of a thumb button."""
    return {
        "verb": VOTE_VERB,
        "answer_id": str(response.get("answer_id", "")),
        "thread": str(response.get("thread", "")),
        "itemno": itemno,
        "vote": vote,
    }


def file_data(response: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of the 'file this notification' button."""
    return {
        "verb": FILE_VERB,
        "answer_id": str(response.get("answer_id", "")),
        "thread": str(response.get("thread", "")),
    }


def can_file(response: Mapping[str, Any]) -> bool:
    """A draft can be filed once it names at least the equipment or the failure."""
    view = response.get("notification") or {}
    return response.get("kind") == "answer" and bool(
        view.get("equipment") or view.get("failure_mode")
    )


# Teams ------------------------------------------------------------------------------------


def _text(text: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


def _execute(title: str, data: dict[str, Any], style: str | None = None) -> dict[str, Any]:
    """Action.Execute (Universal Actions) with an Action.Submit fallback for older clients."""
    action: dict[str, Any] = {
        "type": "Action.Execute",
        "title": title,
        "verb": data["verb"],
        "data": data,
        "fallback": {"type": "Action.Submit", "title": title, "data": data},
    }
    if style:
        action["style"] = style
        action["fallback"]["style"] = style
    return action


def _vote_label(vote: int | None, lang: str) -> str | None:
    if vote == 1:
        return _t("voted_up", lang)
    if vote == -1:
        return _t("voted_down", lang)
    return None


def teams_card(
    response: Mapping[str, Any],
    votes: Mapping[str, int] | None = None,
    filed: str | None = None,
) -> dict[str, Any]:
    """The Adaptive Card of a response: draft, recommendations with thumbs, choices, notes."""
    lang = lang_of(response)
    votes = votes or {}
    kind = response.get("kind", "answer")
    reply = str(response.get("reply") or "")
    body: list[dict[str, Any]] = lc.teams_head(response, filed)
    if kind != "answer" or not is_template(reply):
        body.append(_text(reply or "-"))
    lines = draft_lines(response)
    if lines:
        body.append(_text(_t("draft", lang), weight="Bolder", size="Medium"))
        body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in lines]})
    recs = list(response.get("recommendations") or [])[:MAX_RECS]
    if kind == "answer":
        body.append(_text(_t("recs", lang), weight="Bolder", spacing="Medium"))
        if not recs:
            body.append(_text(_t("no_recs", lang), isSubtle=True))
    for i, rec in enumerate(recs, 1):
        itemno = str(rec.get("itemno", ""))
        items: list[dict[str, Any]] = [
            _text(f"{i}. [{itemno}] {rec.get('title', '')}", weight="Bolder"),
            _text(f"{_t('fix', lang)}: {rec.get('resolution', '') or '-'}"),
            _text(
                f"{_t('score', lang)} {float(rec.get('score', 0.0)):.2f}"
                + (f" · {rec['why']}" if rec.get("why") else ""),
                isSubtle=True,
                size="Small",
                spacing="None",
            ),
        ]
        voted = _vote_label(votes.get(itemno), lang)
        if voted:
            items.append(_text(voted, color="Good" if votes[itemno] > 0 else "Attention"))
        items.append(
            {
                "type": "ActionSet",
                "actions": [
                    _execute(f"👍 {_t('helpful', lang)}", vote_data(response, itemno, 1)),
                    _execute(f"👎 {_t('not_helpful', lang)}", vote_data(response, itemno, -1)),
                ],
            }
        )
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": items})
    missing = list(response.get("missing") or [])
    if missing and kind == "answer":
        names = ", ".join(LABELS[lang].get(f, f) for f in missing)
        body.append(_text(f"{_t('missing', lang)}: {names}", isSubtle=True))
    for field, options in (response.get("choices") or {}).items():
        choice_actions = [
            {
                "type": "Action.Submit",
                "title": str(o.get("name_ko") if lang == "ko" else o.get("name_en")) or o["code"],
                "data": {
                    "msteams": {
                        "type": "imBack",
                        "value": str(o.get("name_ko") if lang == "ko" else o.get("name_en"))
                        or o["code"],
                    }
                },
            }
            for o in options
        ]
        if choice_actions:
            body.append(_text(LABELS[lang].get(field, field), weight="Bolder", spacing="Small"))
            body.append({"type": "ActionSet", "actions": choice_actions})
    degraded = list(response.get("degraded") or [])
    if degraded:
        body.append(_text(degraded_note(degraded, lang), color="Warning", size="Small"))
    card_actions: list[dict[str, Any]] = []
    if filed:
        body.append(_text(f"{_t('filed', lang)}: {filed}", color="Good", weight="Bolder"))
    elif lc.warns(response, filed):
        card_actions.extend(lc.teams_actions(response, filed))
    elif can_file(response) and not response.get("added"):
        card_actions.append(_execute(_t("file", lang), file_data(response), style="positive"))
    body.extend(lc.teams_tail(response, filed))
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    }
    if card_actions:
        card["actions"] = card_actions
    return card


def teams_attachment(card: Mapping[str, Any]) -> dict[str, Any]:
    """The message attachment carrying a card."""
    return {"contentType": CARD_CONTENT_TYPE, "content": dict(card)}


def invoke_card_response(card: Mapping[str, Any]) -> dict[str, Any]:
    """The body of an adaptiveCard/action invoke response that replaces the card."""
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": dict(card)}


def invoke_message_response(text: str) -> dict[str, Any]:
    """The body of an adaptiveCard/action invoke response that shows a message."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}


# Slack ------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Escape &, < and > for mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SLACK_TEXT)}}


def _button(text: str, action_id: str, value: Mapping[str, Any], style: str | None = None) -> Any:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": _clip(text, 75), "emoji": True},
        "action_id": action_id,
        "value": _clip(json.dumps(value, ensure_ascii=False, separators=(",", ":")), 2000),
    }
    if style:
        button["style"] = style
    return button


def slack_blocks(
    response: Mapping[str, Any],
    votes: Mapping[str, int] | None = None,
    filed: str | None = None,
) -> list[dict[str, Any]]:
    """Block Kit blocks with the same content and buttons as the Teams card."""
    lang = lang_of(response)
    votes = votes or {}
    kind = response.get("kind", "answer")
    reply = str(response.get("reply") or "")
    blocks: list[dict[str, Any]] = lc.slack_head(response, filed)
    if kind != "answer" or not is_template(reply):
        blocks.append(_section(slack_escape(reply or "-")))
    lines = draft_lines(response)
    if lines:
        blocks.append(_section(f"*{_t('draft', lang)}*"))
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*{k}*\n{slack_escape(v)}", 2000)}
                    for k, v in lines[:10]
                ],
            }
        )
    recs = list(response.get("recommendations") or [])[:MAX_RECS]
    if kind == "answer":
        blocks.append(
            _section(f"*{_t('recs', lang)}*" + ("" if recs else "\n" + _t("no_recs", lang)))
        )
    for i, rec in enumerate(recs, 1):
        itemno = str(rec.get("itemno", ""))
        text = (
            f"*{i}. [{slack_escape(itemno)}] {slack_escape(str(rec.get('title', '')))}*\n"
            f"{_t('fix', lang)}: {slack_escape(str(rec.get('resolution', '') or '-'))}\n"
            f"_{_t('score', lang)} {float(rec.get('score', 0.0)):.2f}_"
        )
        voted = _vote_label(votes.get(itemno), lang)
        if voted:
            text += f"\n{voted}"
        blocks.append({"type": "divider"})
        blocks.append(_section(text))
        blocks.append(
            {
                "type": "actions",
                "block_id": _clip(f"pmark_rec_{i}", 255),
                "elements": [
                    _button(
                        f"👍 {_t('helpful', lang)}",
                        "pmark_vote_up",
                        vote_data(response, itemno, 1),
                        "primary" if votes.get(itemno) == 1 else None,
                    ),
                    _button(
                        f"👎 {_t('not_helpful', lang)}",
                        "pmark_vote_down",
                        vote_data(response, itemno, -1),
                        "danger" if votes.get(itemno) == -1 else None,
                    ),
                ],
            }
        )
    missing = list(response.get("missing") or [])
    if missing and kind == "answer":
        names = ", ".join(LABELS[lang].get(f, f) for f in missing)
        blocks.append(_section(f"{_t('missing', lang)}: {names}"))
    for field, options in (response.get("choices") or {}).items():
        elements = []
        for j, o in enumerate(options[:25]):
            name = str(o.get("name_ko") if lang == "ko" else o.get("name_en")) or str(o["code"])
            elements.append(
                _button(name, f"pmark_choice_{field}_{j}", {"choice": name, "field": field})
            )
        if elements:
            blocks.append(_section(f"*{LABELS[lang].get(field, field)}*"))
            blocks.append(
                {"type": "actions", "block_id": f"pmark_choices_{field}", "elements": elements}
            )
    degraded = list(response.get("degraded") or [])
    if degraded:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _clip(degraded_note(degraded, lang), 2000)}
                ],
            }
        )
    if filed:
        blocks.append(_section(f"*{_t('filed', lang)}: {slack_escape(filed)}*"))
    elif lc.warns(response, filed):
        blocks.extend(lc.slack_actions(response, filed))
    elif can_file(response) and not response.get("added"):
        blocks.append(
            {
                "type": "actions",
                "block_id": "pmark_file",
                "elements": [
                    _button(_t("file", lang), "pmark_file", file_data(response), "primary")
                ],
            }
        )
    blocks.extend(lc.slack_tail(response, filed))
    return blocks[:50]


def plain_text(response: Mapping[str, Any]) -> str:
    """The notification text (push previews, screen readers, clients without blocks)."""
    return str(response.get("reply") or "")[:SLACK_TEXT] or "PMark"


def held_text(lang: str) -> str:
    """The reply to a message kept in the spool while the database is down."""
    if lang == "ko":
        return (
            "⏳ 접수는 저장했어요 — 데이터베이스가 잠시 응답하지 않아요. "
            "돌아오면 바로 이어서 답할게요."
        )
    return (
        "⏳ Saved — the database is not answering right now. "
        "I'll finish your request as soon as it is back."
    )


def file_later_text(lang: str) -> str:
    """The reply to 'file this notification' while the database is down."""
    if lang == "ko":
        return (
            "⏳ 데이터베이스가 잠시 응답하지 않아 지금은 접수할 수 없어요. "
            "잠시 후 다시 눌러 주세요."
        )
    return "⏳ The database is not answering right now: please press File again in a moment."


def failure_response(turn_id: str, text: str, thread: str) -> dict[str, Any]:
    """The response shown when a turn raised: an explained failure, never silence."""
    lang = "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in text) or not text.strip() else "en"
    return {
        "kind": "error",
        "answer_id": turn_id,
        "reply": error_text(lang),
        "lang": lang,
        "notification": None,
        "missing": [],
        "recommendations": [],
        "degraded": ["error"],
        "query": text,
        "thread": thread,
    }
