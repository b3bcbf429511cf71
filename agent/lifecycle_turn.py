"""Lifecycle commands typed in a conversation: file the draft, add to an open notification, close.

"/file", "접수해 주세요", "file it" file the last draft under the card button's rules; "/file new"
or "새로 접수" file it although an open notification looks like the same problem; "/add" or
"같은 문제" add it to that notification; "완료: 메카니컬 씰 교체" / "done: replaced the seal" (or
"/close NUMBER TEXT") closes the conversation's notification with its resolution.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.language import reply_language
from agent.lifecycle import Duplicate, Lifecycle

_NUMBER = r"(?P<num>[A-Za-z]{1,6}-?\d{4,})"
_CLOSE = re.compile(
    r"^\s*(?:/close\s+(?:" + _NUMBER + r"\s+)?|"
    r"(?:조치\s*완료|처리\s*완료|수리\s*완료|완료|done|fixed|resolved|closed?)"
    r"\s*(?:" + _NUMBER.replace("num", "num2") + r")?\s*[:：]\s*)(?P<text>\S.*)$",
    re.I | re.S,
)
_FILE = re.compile(
    r"^\s*(?:(?:새로|신규로?|별건으로?)\s*)?(?:/file\b|접수\s*해\s*주세요|접수\s*해\s*줘|접수\s*부탁|접수해\s*주세요|"
    r"(?:please\s+)?file\s+it\b|file\s+this\b)",
    re.I,
)
_FORCE = re.compile(r"\b(?:new|anyway)\b|새로|신규|별건|다른\s*문제", re.I)
_ADD = re.compile(
    r"^\s*(?:/add\b|같은\s*문제|동일\s*건|same\s+problem|add\s+to\s+it)\s*" + _NUMBER + "?",
    re.I,
)
_STATE_TIMEOUT = 10.0

StateLookup = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Command:
    """A lifecycle command found in a message."""

    kind: str  # file | add | close
    text: str = ""
    number: str | None = None
    force: bool = False


def command_of(text: str) -> Command | None:
    """The lifecycle command a message is, if any."""
    m = _CLOSE.match(text)
    if m:
        number = m.group("num") or m.group("num2")
        return Command("close", m.group("text").strip(), number.upper() if number else None)
    if _FILE.match(text):
        return Command("file", force=bool(_FORCE.search(text)))
    m = _ADD.match(text)
    if m:
        return Command("add", number=m.group("num").upper() if m.group("num") else None)
    return None


_T: dict[str, tuple[str, str]] = {
    "filed": ("✅ 접수되었습니다: {n}", "✅ Filed as {n}"),
    "already": ("이미 접수된 건입니다: {n}", "Already filed as {n}"),
    "nothing": (
        "접수할 초안이 없어요. 먼저 설비 문제를 적어 주세요.",
        "There is no draft to file yet: describe the problem first.",
    ),
    "dup": (
        "⚠️ 같은 설비에 처리 중인 접수 건이 있어요: {list}. 같은 문제면 '/add', "
        "다른 문제면 '/file new'라고 적어 주세요.",
        "⚠️ This machine already has an open notification: {list}. Same problem: '/add'; "
        "a different problem: '/file new'.",
    ),
    "added": ("➕ {n}에 추가했어요 (새 접수 없음).", "➕ Added to {n} (nothing new filed)."),
    "not_open": ("{n}은(는) 열린 접수 건이 아니에요.", "{n} is not an open notification."),
    "closed": ("✔️ {n} 완료 처리: {r}", "✔️ Closed {n}: {r}"),
    "was_closed": ("{n}은(는) 이미 완료된 건이에요.", "{n} was already closed."),
    "no_open": (
        "이 대화에서 접수된 열린 건이 없어요. '/close 번호 조치내용'으로 닫을 수 있어요.",
        "No open notification was filed in this conversation: use '/close NUMBER what fixed it'.",
    ),
}


def _t(key: str, lang: str, **kw: str) -> str:
    ko, en = _T[key]
    return (ko if lang == "ko" else en).format(**kw)


def duplicate_line(d: Mapping[str, Any], lang: str, now_days: float) -> str:
    """'PM202612040001 (2일 전, tech-a)' / 'PM… (2 days ago, by tech-a)'."""
    days = int(now_days)
    who = d.get("filed_by") or "?"
    if lang == "ko":
        age = "오늘" if days == 0 else f"{days}일 전"
        return f"{d['number']} ({age}, {who})"
    age = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
    return f"{d['number']} ({age}, by {who})"


def _reply(
    kind: str,
    text: str,
    lang: str,
    turn_id: str,
    last: Mapping[str, Any] | None = None,
    filed: str | None = None,
    duplicates: list[Duplicate] | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "answer_id": turn_id,
        "reply": text,
        "lang": lang,
        "notification": (last or {}).get("notification"),
        "missing": [],
        "recommendations": [],
        "degraded": [],
        "filed": filed,
        "duplicates": [d.as_dict() for d in duplicates or []],
    }


async def lifecycle_reply(
    lifecycle: Lifecycle,
    state: StateLookup,
    thread_id: str,
    text: str,
    user_id: str,
    turn_id: str,
) -> dict[str, Any] | None:
    """The reply to a lifecycle command, or None when the message is not one."""
    command = command_of(text)
    if command is None:
        return None
    lang = reply_language(text)
    user = user_id or thread_id.split(":", 1)[0]
    if command.kind == "close":
        if command.number:
            record, closed = await asyncio.to_thread(
                lifecycle.close, command.number, command.text, user
            )
        else:
            record, closed = await asyncio.to_thread(
                lifecycle.close_in_thread, thread_id, command.text, user
            )
        if record is None:
            key = "not_open" if command.number else "no_open"
            return _reply("lifecycle", _t(key, lang, n=command.number or ""), lang, turn_id)
        key = "closed" if closed else "was_closed"
        return _reply(
            "lifecycle", _t(key, lang, n=record.itemno, r=record.resolution), lang, turn_id
        )
    values = await asyncio.wait_for(state(thread_id), _STATE_TIMEOUT)
    last = dict(values.get("last_answer") or {})
    view = last.get("notification") or {}
    if last.get("kind", "answer") != "answer" or not (
        view.get("equipment") or view.get("failure_mode")
    ):
        # The card's rule: a draft names at least the equipment or the failure.
        return _reply("lifecycle", _t("nothing", lang), lang, turn_id)
    last.setdefault("thread", thread_id)
    lang = "en" if last.get("lang") == "en" else "ko"  # the draft's language
    if command.kind == "add":
        number = command.number
        if number is None:
            found = await asyncio.to_thread(lifecycle.duplicates, last.get("notification"))
            number = found[0].number if found else None
        if number is None:
            return _reply("lifecycle", _t("nothing", lang), lang, turn_id, last)
        record = await asyncio.to_thread(lifecycle.add_to, number, last, thread_id, user)
        if record is None:
            return _reply("lifecycle", _t("not_open", lang, n=number), lang, turn_id, last)
        return _reply("lifecycle", _t("added", lang, n=record.itemno), lang, turn_id, last)
    outcome = await asyncio.to_thread(lifecycle.file, last, thread_id, user, command.force)
    if outcome.number is None:
        listed = ", ".join(
            duplicate_line(d.as_dict(), lang, d.age_days()) for d in outcome.duplicates
        )
        return _reply(
            "lifecycle",
            _t("dup", lang, list=listed),
            lang,
            turn_id,
            last,
            duplicates=outcome.duplicates,
        )
    key = "already" if outcome.already else "filed"
    return _reply(
        "lifecycle", _t(key, lang, n=outcome.number), lang, turn_id, last, filed=outcome.number
    )
