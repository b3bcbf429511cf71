"""What a group-chat or channel message says to PMark: its own mention removed, the parts
addressed to other people (after their mention) left out of what is parsed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

_TEAMS_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.S)
_SLACK_AT = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_SPACE = re.compile(r"\s+")


def addressed(parts: Sequence[tuple[str, str]]) -> str:
    """Join ('text', s) / ('bot', '') / ('other', name) parts: text before any mention or after
    PMark's is kept, text after someone else's mention is addressed to them and dropped. When
    that leaves nothing, the text without any mention is kept (names never are)."""
    kept: list[str] = []
    everything: list[str] = []
    owner = "none"
    for kind, value in parts:
        if kind == "text":
            everything.append(value)
            if owner in ("none", "bot"):
                kept.append(value)
        else:
            owner = kind
    text = _SPACE.sub(" ", " ".join(kept)).strip()
    return text or _SPACE.sub(" ", " ".join(everything)).strip()


def _split(text: str, pattern: re.Pattern[str], is_bot: Any) -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = []
    at = 0
    for m in pattern.finditer(text):
        parts.append(("text", text[at : m.start()]))
        parts.append(("bot", "") if is_bot(m) else ("other", m.group(1)))
        at = m.end()
    parts.append(("text", text[at:]))
    return parts


def teams_text(text: str, entities: Iterable[Any], bot_id: str, bot_name: str) -> str:
    """A Teams message without PMark's mention and without what was said to others."""
    mine: set[str] = set()
    others: set[str] = set()
    for entity in entities or []:
        data = entity if isinstance(entity, dict) else getattr(entity, "additional_properties", {})
        if not isinstance(data, dict):
            continue
        kind = data.get("type") or getattr(entity, "type", "")
        if kind != "mention":
            continue
        mentioned = data.get("mentioned") or {}
        tag = str(data.get("text") or "")
        if isinstance(mentioned, dict) and mentioned.get("id") == bot_id:
            mine.add(tag)
        else:
            others.add(tag)

    def is_bot(m: re.Match[str]) -> bool:
        if m.group(0) in mine:
            return True
        if m.group(0) in others:
            return False
        return bool(bot_name) and m.group(1).strip() == bot_name

    return addressed(_split(text, _TEAMS_AT, is_bot))


def slack_text(text: str, bot_user: str) -> str:
    """A Slack message without PMark's mention and without what was said to others."""
    return addressed(_split(text, _SLACK_AT, lambda m: m.group(1) == bot_user))
