"""The sections of the Slack Block Kit message; bot/cards.py lists them in order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.card_parts import (
    Card,
    can_file,
    changes_lines,
    choice_data,
    choice_name,
    degraded_note,
    draft_lines,
    file_data,
    is_template,
    reasons_text,
    t,
    vote_data,
    vote_label,
    weak_heading,
)

Block = dict[str, Any]
SLACK_TEXT = 3000


def slack_escape(text: str) -> str:
    """Escape &, < and > for mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut to Block Kit's limit with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    """A mrkdwn section."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SLACK_TEXT)}}


def button(text: str, action_id: str, value: Mapping[str, Any], style: str | None = None) -> Block:
    """A button whose value is the JSON payload."""
    out: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, 75), "emoji": True},
        "action_id": action_id,
        "value": clip(json.dumps(value, ensure_ascii=False, separators=(",", ":")), 2000),
    }
    if style:
        out["style"] = style
    return out


def reply_section(card: Card) -> list[Block]:
    """The reply text, unless it is the template the blocks already show."""
    if card.kind == "answer" and is_template(card.reply):
        return []
    return [section(slack_escape(card.reply or "-"))]


def draft_section(card: Card) -> list[Block]:
    """The draft notification as section fields."""
    lines = draft_lines(card.response)
    if not lines:
        return []
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{k}*\n{slack_escape(v)}", 2000)} for k, v in lines[:10]
    ]
    return [section(f"*{t('draft', card.lang)}*"), {"type": "section", "fields": fields}]


def changes_section(card: Card) -> list[Block]:
    """What a correction changed."""
    return [section(slack_escape(line)) for line in changes_lines(card.response)]


def recs_heading_section(card: Card) -> list[Block]:
    """The heading of the recommendations; what to say when there are none or only weak ones."""
    if card.kind != "answer":
        return []
    if card.recs and card.response.get("weak"):
        return [section(f"*{slack_escape(weak_heading(card.lang))}*")]
    empty = "" if card.recs else "\n" + t("no_recs", card.lang)
    return [section(f"*{t('recs', card.lang)}*{empty}")]


def rec_text(card: Card, index: int, rec: Mapping[str, Any]) -> str:
    """Title, fix and why of one recommended case (mrkdwn); the score is not a technician's."""
    lang = card.lang
    itemno = str(rec.get("itemno", ""))
    number = rec.get("rank", index)
    text = (
        f"*{number}. [{slack_escape(itemno)}] {slack_escape(str(rec.get('title', '')))}*\n"
        f"{t('fix', lang)}: {slack_escape(str(rec.get('resolution', '') or '-'))}"
    )
    why = reasons_text(rec, lang)
    if why:
        text += f"\n_{slack_escape(why)}_"
    voted = vote_label(card.votes.get(itemno), lang)
    return text + (f"\n{voted}" if voted else "")


def rec_blocks(card: Card, index: int, rec: Mapping[str, Any]) -> list[Block]:
    """Divider, text and (while the card is live) thumbs of one recommended case."""
    itemno = str(rec.get("itemno", ""))
    vote = card.votes.get(itemno)
    out = [{"type": "divider"}, section(rec_text(card, index, rec))]
    if not card.live or card.kind not in ("answer", "detail"):
        return out
    out.append(
        {
            "type": "actions",
            "block_id": clip(f"pmark_rec_{index}", 255),
            "elements": [
                button(
                    f"👍 {t('helpful', card.lang)}",
                    "pmark_vote_up",
                    vote_data(card.response, itemno, 1),
                    "primary" if vote == 1 else None,
                ),
                button(
                    f"👎 {t('not_helpful', card.lang)}",
                    "pmark_vote_down",
                    vote_data(card.response, itemno, -1),
                    "danger" if vote == -1 else None,
                ),
            ],
        }
    )
    return out


# The parts of one recommended case, in order; another module may add its own part here.
REC_PARTS = (rec_blocks,)


def recs_section(card: Card) -> list[Block]:
    """The blocks of every recommended case."""
    return [
        b for i, rec in enumerate(card.recs, 1) for part in REC_PARTS for b in part(card, i, rec)
    ]


def missing_section(card: Card) -> list[Block]:
    """What the answer still does not know."""
    missing = list(card.response.get("missing") or [])
    if not missing or card.kind != "answer":
        return []
    return [section(f"{t('missing', card.lang)}: {', '.join(card.label(f) for f in missing)}")]


def choices_section(card: Card) -> list[Block]:
    """One row of buttons per missing field with choices, while the card is live."""
    if not card.live:
        return []
    out: list[Block] = []
    for field_name, options in (card.response.get("choices") or {}).items():
        elements = [
            button(
                choice_name(o, card.lang),
                f"pmark_choice_{field_name}_{j}",
                choice_data(card.response, field_name, o),
            )
            for j, o in enumerate(options[:25])
        ]
        if elements:
            out.append(section(f"*{card.label(field_name)}*"))
            out.append(
                {"type": "actions", "block_id": f"pmark_choices_{field_name}", "elements": elements}
            )
    return out


def degraded_section(card: Card) -> list[Block]:
    """Which parts were unavailable for this answer."""
    degraded = list(card.response.get("degraded") or [])
    if not degraded:
        return []
    note = clip(degraded_note(degraded, card.lang), 2000)
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}]


def file_section(card: Card) -> list[Block]:
    """The number the draft was filed as, that a newer card replaced this one, or the button
    that files a live draft with every required field."""
    if card.filed:
        return [section(f"*{t('filed', card.lang)}: {slack_escape(card.filed)}*")]
    if card.closed:
        note = {"type": "mrkdwn", "text": t("superseded", card.lang)}
        return [{"type": "context", "elements": [note]}]
    if not can_file(card.response):
        return []
    file_button = button(t("file", card.lang), "pmark_file", file_data(card.response), "primary")
    return [{"type": "actions", "block_id": "pmark_file", "elements": [file_button]}]
