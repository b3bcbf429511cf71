"""Thumbs and 'file this notification': stored once, supervisors' thumbs marked as labels."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.domain import Notification
from adapters.sql.repository import FeedbackRecord, Repository, utcnow

log = logging.getLogger(__name__)

StateLookup = Callable[[str], Awaitable[dict[str, Any]]]
Indexer = Callable[[Sequence[Notification]], object]
WHOLE_ANSWER = "*"
MAX_ID = 128


class _Lru(OrderedDict[str, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass
class VoteResult:
    """What a thumb did and what the card should now show."""

    stored: bool
    response: dict[str, Any] | None
    votes: dict[str, int] = field(default_factory=dict)
    filed: str | None = None
    error: str | None = None


class FeedbackService:
    """Records thumbs and filed notifications; remembers recent answers to re-render cards."""

    def __init__(
        self,
        repo: Repository,
        supervisors: Sequence[str],
        state: StateLookup | None = None,
        index: Indexer | None = None,
        cache_size: int = 5000,
    ) -> None:
        self.repo = repo
        self.supervisors = frozenset(supervisors)
        self._state = state
        self._index = index
        self._answers = _Lru(cache_size)
        self._votes = _Lru(cache_size)
        self._filed = _Lru(cache_size)
        self._messages = _Lru(cache_size)
        self._file_lock = asyncio.Lock()

    # Answers ------------------------------------------------------------------------------

    def remember(self, response: Mapping[str, Any], message_id: str | None = None) -> None:
        """Keep a sent answer so a thumb on it can re-render its card."""
        answer_id = str(response.get("answer_id") or "")
        if not answer_id:
            return
        self._answers.put(answer_id, dict(response))
        if message_id:
            self._messages.put(message_id, answer_id)

    def answer_for_message(self, message_id: str) -> str | None:
        """The answer id of a message the bot sent (Teams' own feedback buttons refer to it)."""
        value = self._messages.get(message_id)
        return str(value) if value else None

    async def answer(self, answer_id: str, thread: str) -> dict[str, Any] | None:
        """The answer from memory, or from the conversation's checkpoint if it is still last."""
        cached = self._answers.get(answer_id)
        if cached is not None:
            return dict(cached)
        if self._state is None or not thread:
            return None
        try:
            values = await self._state(thread)
        except Exception:
            log.warning("could not read conversation state for %s", thread, exc_info=True)
            return None
        last = values.get("last_answer") or {}
        if str(last.get("answer_id", "")) == answer_id:
            response = {**last, "thread": thread}
            self._answers.put(answer_id, response)
            return dict(response)
        return None

    def votes_of(self, answer_id: str, user_id: str) -> dict[str, int]:
        """The votes this user gave on this answer (as far as this process saw)."""
        return dict(self._votes.get(f"{answer_id}\x00{user_id}") or {})

    # Thumbs -------------------------------------------------------------------------------

    async def vote(
        self,
        channel: str,
        user_id: str,
        data: Mapping[str, Any],
        comment: str = "",
    ) -> VoteResult:
        """Store one thumb (idempotent on answer, item and user)."""
        answer_id = str(data.get("answer_id") or "")[:MAX_ID]
        itemno = str(data.get("itemno") or "")[:64]
        thread = str(data.get("thread") or "")
        try:
            vote = int(data.get("vote", 0))
        except (TypeError, ValueError):
            vote = 0
        response = await self.answer(answer_id, thread) if answer_id else None
        if not answer_id or not itemno or vote not in (1, -1) or not user_id:
            return VoteResult(False, response, error="bad vote")
        if response is not None:
            known = {str(r.get("itemno")) for r in response.get("recommendations") or []}
            if itemno not in known:
                return VoteResult(False, response, error="unknown recommendation")
        view = (response or {}).get("notification") or {}
        record = FeedbackRecord(
            answer_id=answer_id,
            itemno=itemno,
            user_id=user_id[:MAX_ID],
            channel=channel,
            vote=vote,
            is_supervisor=user_id in self.supervisors,
            query=str((response or {}).get("query") or "")[:4000],
            equipment=_code(view.get("equipment")),
            failure_mode=_code(view.get("failure_mode")),
            comment=comment[:2000],
        )
        stored = await asyncio.to_thread(self.repo.record_feedback, record)
        key = f"{answer_id}\x00{user_id}"
        votes = dict(self._votes.get(key) or {})
        votes[itemno] = vote
        self._votes.put(key, votes)
        return VoteResult(stored, response, votes, self._filed.get(answer_id))

    async def answer_feedback(
        self, channel: str, user_id: str, answer_id: str, vote: int, comment: str = ""
    ) -> bool:
        """Feedback on a whole answer (Teams' built-in buttons): stored as user feedback only."""
        if vote not in (1, -1) or not user_id or not answer_id:
            return False
        response = self._answers.get(answer_id) or {}
        view = response.get("notification") or {}
        record = FeedbackRecord(
            answer_id=answer_id[:MAX_ID],
            itemno=WHOLE_ANSWER,
            user_id=user_id[:MAX_ID],
            channel=channel,
            vote=vote,
            # Not a relevance label of any one recommendation, whoever gives it.
            is_supervisor=False,
            query=str(response.get("query") or "")[:4000],
            equipment=_code(view.get("equipment")),
            failure_mode=_code(view.get("failure_mode")),
            comment=comment[:2000],
        )
        return await asyncio.to_thread(self.repo.record_feedback, record)

    # Filing -------------------------------------------------------------------------------

    async def file(self, channel: str, user_id: str, data: Mapping[str, Any]) -> VoteResult:
        """Store the drafted notification once per answer with a new itemno."""
        answer_id = str(data.get("answer_id") or "")[:MAX_ID]
        thread = str(data.get("thread") or "")
        response = await self.answer(answer_id, thread) if answer_id else None
        votes = self.votes_of(answer_id, user_id)
        if response is None:
            return VoteResult(False, None, votes, self._filed.get(answer_id), "unknown answer")
        async with self._file_lock:
            already = self._filed.get(answer_id)
            if already:
                return VoteResult(False, response, votes, already)
            if not await asyncio.to_thread(self.repo.claim_event, f"file:{answer_id}"):
                # Filed before (by another replica or before a restart); the itemno is not known.
                return VoteResult(False, response, votes, "✓")
            notification = await asyncio.to_thread(self._store, response, channel, user_id)
            self._filed.put(answer_id, notification.itemno)
        return VoteResult(True, response, votes, notification.itemno)

    def _store(self, response: Mapping[str, Any], channel: str, user_id: str) -> Notification:
        view = response.get("notification") or {}
        lang = "en" if response.get("lang") == "en" else "ko"
        names = [
            str(v.get("name_ko") if lang == "ko" else v.get("name_en") or v.get("code"))
            for f in ("location", "equipment", "failure_mode")
            if (v := view.get(f))
        ]
        query = str(response.get("query") or "").strip()
        title = (query or " ".join(names) or "PMark")[:200]
        tag = view.get("equipment_tag")
        notification = Notification(
            itemno=self.repo.next_itemno(),
            created_at=utcnow(),
            location=_code(view.get("location")),
            equipment=_code(view.get("equipment")),
            failure_mode=_code(view.get("failure_mode")),
            priority=_code(view.get("priority")),
            title=title,
            details=(
                f"{query}\n"
                + (f"tag {tag}\n" if tag else "")
                + f"filed via PMark ({channel}) by {user_id}; answer {response.get('answer_id')}"
            ).strip(),
            resolution="",
            extra={"source": "pmark"},
        )
        self.repo.upsert_notifications([notification])
        if self._index is not None:
            try:
                self._index([notification])
            except Exception:
                log.warning("filed %s but could not index it", notification.itemno, exc_info=True)
        log.info("notification filed", extra={"itemno": notification.itemno, "channel": channel})
        return notification


def _code(value: Any) -> str | None:
    if isinstance(value, Mapping) and value.get("code"):
        return str(value["code"])
    return None
