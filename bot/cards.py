"""Rendering an agent response dict as a Teams Adaptive Card (1.5) or Slack Block Kit. Pure.

A card is assembled from sections, in the order of TEAMS_SECTIONS / SLACK_SECTIONS: each takes
the `Card` (the response, this user's votes, the filed number) and returns its elements. A new
part of the card is a new section function in its own module plus one line in these lists; a
new part of each recommended case goes into REC_PARTS of bot/card_teams.py / bot/card_slack.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agent.answer import error_text
from bot import card_slack as slack
from bot import card_teams as teams
from bot import cards_lifecycle as lc
from bot.card_parts import (
    CHOICE_VERB,
    FILE_VERB,
    SUPERSEDED,
    VERBS,
    VOTE_VERB,
    Card,
    can_file,
    draft_lines,
    field_value,
    lang_of,
)
from bot.card_slack import SLACK_TEXT, slack_escape
from bot.cards_fields import FieldOptions, slack_fields_section, teams_fields_section

__all__ = [
    "CHOICE_VERB",
    "FILE_VERB",
    "SUPERSEDED",
    "VERBS",
    "VOTE_VERB",
    "Card",
    "can_file",
    "draft_lines",
    "field_value",
    "lang_of",
    "slack_escape",
]

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
Section = Callable[[Card], list[dict[str, Any]]]


def _teams_lifecycle_head(card: Card) -> list[dict[str, Any]]:
    return lc.teams_head(card.response, card.filed)


def _teams_lifecycle_tail(card: Card) -> list[dict[str, Any]]:
    return lc.teams_tail(card.response, card.filed)


def _teams_file_actions(card: Card) -> list[dict[str, Any]]:
    """The file button, or the duplicate warning's two choices instead of it (live cards)."""
    if lc.warns(card.response, card.filed):
        return lc.teams_actions(card.response, card.filed) if card.live else []
    if card.response.get("added"):
        return []
    return teams.file_action(card)


def _slack_lifecycle_head(card: Card) -> list[dict[str, Any]]:
    return lc.slack_head(card.response, card.filed)


def _slack_lifecycle_tail(card: Card) -> list[dict[str, Any]]:
    return lc.slack_tail(card.response, card.filed)


def _slack_file_section(card: Card) -> list[dict[str, Any]]:
    """The filed number or file button, or the duplicate warning's two choices instead."""
    if lc.warns(card.response, card.filed):
        return lc.slack_actions(card.response, card.filed) if card.live else []
    if card.response.get("added") and not card.filed:
        return []
    return slack.file_section(card)


# The body of the Teams card, top to bottom.
TEAMS_SECTIONS: list[Section] = [
    _teams_lifecycle_head,
    teams.reply_section,
    teams.draft_section,
    teams.changes_section,
    teams.recs_heading_section,
    teams.recs_section,
    teams.missing_section,
    teams.choices_section,
    teams_fields_section,
    teams.degraded_section,
    teams.closed_section,
    _teams_lifecycle_tail,
]
# The card-level actions of the Teams card (shown under the body).
TEAMS_ACTIONS: list[Section] = [_teams_file_actions]
# The Slack blocks, top to bottom.
SLACK_SECTIONS: list[Section] = [
    _slack_lifecycle_head,
    slack.reply_section,
    slack.draft_section,
    slack.changes_section,
    slack.recs_heading_section,
    slack.recs_section,
    slack.missing_section,
    slack.choices_section,
    slack_fields_section,
    slack.degraded_section,
    _slack_file_section,
    _slack_lifecycle_tail,
]


def _card(
    response: Mapping[str, Any],
    votes: Mapping[str, int] | None,
    filed: str | None,
    closed: str | None,
    options: FieldOptions | None,
) -> Card:
    return Card(
        response=response,
        votes=dict(votes or {}),
        filed=filed,
        closed=closed,
        options=options or {},
    )


def teams_card(
    response: Mapping[str, Any],
    votes: Mapping[str, int] | None = None,
    filed: str | None = None,
    closed: str | None = None,
    options: FieldOptions | None = None,
) -> dict[str, Any]:
    """The Adaptive Card of a response: draft, recommendations with thumbs, choices, notes."""
    card = _card(response, votes, filed, closed, options)
    out: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": [element for section in TEAMS_SECTIONS for element in section(card)],
    }
    actions = [action for section in TEAMS_ACTIONS for action in section(card)]
    if actions:
        out["actions"] = actions
    return out


def teams_attachment(card: Mapping[str, Any]) -> dict[str, Any]:
    """The message attachment carrying a card."""
    return {"contentType": CARD_CONTENT_TYPE, "content": dict(card)}


def invoke_card_response(card: Mapping[str, Any]) -> dict[str, Any]:
    """The body of an adaptiveCard/action invoke response that replaces the card."""
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": dict(card)}


def invoke_message_response(text: str) -> dict[str, Any]:
    """The body of an adaptiveCard/action invoke response that shows a message."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}


def slack_blocks(
    response: Mapping[str, Any],
    votes: Mapping[str, int] | None = None,
    filed: str | None = None,
    closed: str | None = None,
    options: FieldOptions | None = None,
) -> list[dict[str, Any]]:
    """Block Kit blocks with the same content and buttons as the Teams card."""
    card = _card(response, votes, filed, closed, options)
    return [block for section in SLACK_SECTIONS for block in section(card)][:50]


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
