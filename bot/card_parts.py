"""What the Teams card and the Slack blocks share: texts, the card context, button payloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.answer import LABELS

VOTE_VERB = "pmark.vote"
FILE_VERB = "pmark.file"
DRAFT_FIELDS = ("location", "equipment", "failure_mode", "priority", "activity")
MAX_RECS = 10

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


def t(key: str, lang: str) -> str:
    """A card text in the card's language."""
    ko, en = _T[key]
    return ko if lang == "ko" else en


def lang_of(response: Mapping[str, Any]) -> str:
    """The response language, 'ko' or 'en'."""
    return "en" if response.get("lang") == "en" else "ko"


@dataclass(frozen=True)
class Card:
    """Everything a card section may look at: the response and what happened to it since."""

    response: Mapping[str, Any]
    votes: Mapping[str, int] = field(default_factory=dict)
    filed: str | None = None

    @property
    def lang(self) -> str:
        return lang_of(self.response)

    @property
    def kind(self) -> str:
        return str(self.response.get("kind", "answer"))

    @property
    def reply(self) -> str:
        return str(self.response.get("reply") or "")

    @property
    def recs(self) -> list[Mapping[str, Any]]:
        return list(self.response.get("recommendations") or [])[:MAX_RECS]

    def label(self, field_name: str) -> str:
        """A field's label ('위치', 'Location')."""
        return LABELS[self.lang].get(field_name, field_name)


def degraded_note(parts: list[str], lang: str) -> str:
    """A clear one-line note about what was unavailable."""
    names = []
    for part in parts:
        ko, en = _DEGRADED_PARTS.get(part, (part, part))
        names.append(ko if lang == "ko" else en)
    return f"{t('degraded', lang)}: {', '.join(names)}"


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
        text += f" · {t('confidence', lang)} {round(float(confidence) * 100)}%"
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


def vote_label(vote: int | None, lang: str) -> str | None:
    """What a recorded thumb says on the card."""
    if vote == 1:
        return t("voted_up", lang)
    if vote == -1:
        return t("voted_down", lang)
    return None


def choice_name(option: Mapping[str, Any], lang: str) -> str:
    """The name a choice button shows (and sends back)."""
    name = option.get("name_ko") if lang == "ko" else option.get("name_en")
    return str(name or option["code"])
