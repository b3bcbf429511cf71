"""What the Teams card and the Slack blocks share: texts, the card context, button payloads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.answer import LABELS, change_text, no_match_text
from agent.parsing.parser import REQUIRED_FIELDS
from agent.reasons import reason_words

VOTE_VERB = "pmark.vote"
FILE_VERB = "pmark.file"
CHOICE_VERB = "pmark.choice"
VERBS = (VOTE_VERB, FILE_VERB, CHOICE_VERB)
SUPERSEDED = "superseded"
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
    "show_score": ("점수 보기", "Score"),
    "closest": ("가장 가까운 사례:", "Closest guesses:"),
    "superseded": (
        "이 카드는 아래의 새 답변으로 바뀌었어요.",
        "This card was replaced by the newer answer below.",
    ),
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
    # SUPERSEDED once a newer card of the conversation was sent: its buttons are gone.
    closed: str | None = None
    # The catalog's codes by field, (code, name_ko, name_en), offered to correct a parsed field.
    options: Mapping[str, Sequence[tuple[str, str, str]]] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Whether the card's buttons still act (not filed, not superseded)."""
        return not self.filed and not self.closed

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
    """'압축기 (CMP)': the name in the card's language, with the code when it differs."""
    if not value:
        return "-"
    code = str(value.get("code") or "")
    name = str((value.get("name_ko") if lang == "ko" else value.get("name_en")) or code or "-")
    return f"{name} ({code})" if code and code != name else name


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
    """A draft can be filed once every required field has a code."""
    view = response.get("notification") or {}
    return response.get("kind") == "answer" and all(
        isinstance(view.get(f), Mapping) and view[f].get("code") for f in REQUIRED_FIELDS
    )


def missing_of(response: Mapping[str, Any]) -> list[str]:
    """The required fields the draft has no code for."""
    view = response.get("notification") or {}
    return [
        f for f in REQUIRED_FIELDS if not (isinstance(view.get(f), Mapping) and view[f].get("code"))
    ]


def choice_data(
    response: Mapping[str, Any], field_name: str, option: Mapping[str, Any]
) -> dict[str, Any]:
    """The payload of a choice button: the card it belongs to and the value it answers with."""
    lang = lang_of(response)
    return {
        "verb": CHOICE_VERB,
        "answer_id": str(response.get("answer_id", "")),
        "thread": str(response.get("thread", "")),
        "field": field_name,
        "code": str(option.get("code", "")),
        "value": choice_name(option, lang),
    }


def reasons_text(rec: Mapping[str, Any], lang: str) -> str:
    """Why the case was recommended, in words."""
    return reason_words(rec, lang)


def changes_lines(response: Mapping[str, Any]) -> list[str]:
    """'✏️ 설비 변경: 공기압축기 → 압축기' for each corrected field."""
    lang = lang_of(response)
    return [change_text(dict(c), lang) for c in response.get("changes") or []]


def weak_heading(lang: str) -> str:
    """The heading of best guesses after a weak search."""
    return f"🔍 {no_match_text(lang)} {t('closest', lang)}"


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


def stale_text(lang: str, reason: str = "") -> str:
    """The short explanation a press on a card that is no longer current gets."""
    if reason == "filed":
        return "이 초안은 이미 접수되었어요." if lang == "ko" else "This draft was filed already."
    return (
        "이 카드는 지난 내용이에요. 가장 최근 카드의 버튼을 눌러 주세요."
        if lang == "ko"
        else "This card is out of date: please use the buttons of the latest card."
    )


def incomplete_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """A file request on a draft missing a required field: the question for what is missing,
    with its choice buttons (the same card id, so they act)."""
    lang = lang_of(response)
    missing = missing_of(response)
    names = ", ".join(LABELS[lang].get(f, f) for f in missing)
    reply = (
        f"접수하려면 먼저 알려 주세요: {names}"
        if lang == "ko"
        else f"To file it, please tell me first: {names}"
    )
    choices = dict(response.get("choices") or {})
    return {
        **response,
        "kind": "question",
        "fields": missing,
        "reply": reply,
        "missing": missing,
        "recommendations": [],
        "choices": {f: choices[f] for f in missing if f in choices},
        "changes": [],
    }
