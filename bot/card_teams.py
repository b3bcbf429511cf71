"""The sections of the Teams Adaptive Card; bot/cards.py lists them in order."""

from __future__ import annotations

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

Element = dict[str, Any]


def text_block(text: str, **props: Any) -> Element:
    """A wrapping TextBlock."""
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


def execute(title: str, data: dict[str, Any], style: str | None = None) -> Element:
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


def reply_section(card: Card) -> list[Element]:
    """The reply text, unless it is the template the card's structure already shows."""
    if card.kind == "answer" and is_template(card.reply):
        return []
    return [text_block(card.reply or "-")]


def draft_section(card: Card) -> list[Element]:
    """The draft notification as a FactSet."""
    lines = draft_lines(card.response)
    if not lines:
        return []
    return [
        text_block(t("draft", card.lang), weight="Bolder", size="Medium"),
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in lines]},
    ]


def changes_section(card: Card) -> list[Element]:
    """What a correction changed."""
    return [text_block(line, color="Accent") for line in changes_lines(card.response)]


def recs_heading_section(card: Card) -> list[Element]:
    """The heading of the recommendations, and what to say when there are none or only weak
    ones."""
    if card.kind != "answer":
        return []
    if card.recs and card.response.get("weak"):
        return [text_block(weak_heading(card.lang), weight="Bolder", spacing="Medium")]
    out = [text_block(t("recs", card.lang), weight="Bolder", spacing="Medium")]
    if not card.recs:
        out.append(text_block(t("no_recs", card.lang), isSubtle=True))
    return out


def score_id(index: int) -> str:
    """The element id of a case's score (unique in the card)."""
    return f"pmark-score-{index}"


def rec_lines(card: Card, index: int, rec: Mapping[str, Any]) -> list[Element]:
    """Title, fix, why (in words) and the score, hidden until its toggle is pressed."""
    lang = card.lang
    number = rec.get("rank", index)
    out = [
        text_block(f"{number}. [{rec.get('itemno', '')}] {rec.get('title', '')}", weight="Bolder"),
        text_block(f"{t('fix', lang)}: {rec.get('resolution', '') or '-'}"),
    ]
    why = reasons_text(rec, lang)
    if why:
        out.append(text_block(why, isSubtle=True, size="Small", spacing="None"))
    out.append(
        text_block(
            f"{t('score', lang)} {float(rec.get('score', 0.0)):.2f}",
            id=score_id(index),
            isVisible=False,
            isSubtle=True,
            size="Small",
            spacing="None",
        )
    )
    return out


def rec_votes(card: Card, index: int, rec: Mapping[str, Any]) -> list[Element]:
    """The recorded thumb of this user, the thumb buttons while the card is live, and the
    score toggle."""
    itemno = str(rec.get("itemno", ""))
    out: list[Element] = []
    voted = vote_label(card.votes.get(itemno), card.lang)
    if voted:
        out.append(text_block(voted, color="Good" if card.votes[itemno] > 0 else "Attention"))
    actions: list[Element] = []
    if card.live and card.kind in ("answer", "detail"):
        actions += [
            execute(f"👍 {t('helpful', card.lang)}", vote_data(card.response, itemno, 1)),
            execute(f"👎 {t('not_helpful', card.lang)}", vote_data(card.response, itemno, -1)),
        ]
    actions.append(
        {
            "type": "Action.ToggleVisibility",
            "title": t("show_score", card.lang),
            "targetElements": [score_id(index)],
        }
    )
    out.append({"type": "ActionSet", "actions": actions})
    return out


# The parts of one recommended case, in order; another module may add its own part here.
REC_PARTS = (rec_lines, rec_votes)


def recs_section(card: Card) -> list[Element]:
    """One container per recommended case."""
    out: list[Element] = []
    for i, rec in enumerate(card.recs, 1):
        items = [element for part in REC_PARTS for element in part(card, i, rec)]
        out.append({"type": "Container", "separator": True, "spacing": "Medium", "items": items})
    return out


def missing_section(card: Card) -> list[Element]:
    """What the answer still does not know."""
    missing = list(card.response.get("missing") or [])
    if not missing or card.kind != "answer":
        return []
    names = ", ".join(card.label(f) for f in missing)
    return [text_block(f"{t('missing', card.lang)}: {names}", isSubtle=True)]


def choices_section(card: Card) -> list[Element]:
    """One row of buttons per missing field with choices, while the card is live.

    Action.Execute with an Action.Submit fallback, both carrying the choice as data: Teams and
    the Agents Playground both deliver it (an imBack fallback does nothing in the playground).
    """
    if not card.live:
        return []
    out: list[Element] = []
    for field_name, options in (card.response.get("choices") or {}).items():
        actions = [
            execute(choice_name(o, card.lang), choice_data(card.response, field_name, o))
            for o in options
        ]
        if actions:
            out.append(text_block(card.label(field_name), weight="Bolder", spacing="Small"))
            out.append({"type": "ActionSet", "actions": actions})
    return out


def degraded_section(card: Card) -> list[Element]:
    """Which parts were unavailable for this answer."""
    degraded = list(card.response.get("degraded") or [])
    if not degraded:
        return []
    return [text_block(degraded_note(degraded, card.lang), color="Warning", size="Small")]


def closed_section(card: Card) -> list[Element]:
    """The number the draft was filed as, or that a newer card replaced this one."""
    if card.filed:
        text = f"{t('filed', card.lang)}: {card.filed}"
        return [text_block(text, color="Good", weight="Bolder")]
    if card.closed:
        return [text_block(t("superseded", card.lang), isSubtle=True)]
    return []


def file_action(card: Card) -> list[Element]:
    """The 'file this notification' button, only on a live draft with every required field."""
    if not card.live or not can_file(card.response):
        return []
    return [execute(t("file", card.lang), file_data(card.response), style="positive")]
