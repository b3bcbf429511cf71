"""Thumbs and 'file this notification': stored once, supervisors' thumbs marked as labels."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from cachetools import LRUCache
from prometheus_client import Counter

from adapters.domain import Notification
from adapters.sql.cards import CardStore
from adapters.sql.repository import FeedbackRecord, Repository
from agent.lifecycle import Lifecycle
from agent.outage import DB_RETRIES, DatabaseUnavailable, DatabaseWatch, is_outage
from bot.card_parts import can_file
from bot.cardstate import INCOMPLETE, STALE, CardTracker, SentCard
from bot.spool import Spool, SpoolItem

log = logging.getLogger(__name__)

FEEDBACK = Counter("pmark_feedback_total", "Thumbs given on recommendations", ["vote"])

StateLookup = Callable[[str], Awaitable[dict[str, Any]]]
Indexer = Callable[[Sequence[Notification]], object]
WHOLE_ANSWER = "*"
MAX_ID = 128
MAX_THREAD = 1024  # a Teams conversation id with its message id is a few hundred characters
SPOOL_KIND = "feedback"
UNCHECKED_KIND = "feedback-unchecked"  # a thumb whose answer only the database could confirm
UNAVAILABLE = "database unavailable"


@dataclass
class VoteResult:
    """What a thumb did and what the card should now show."""

    stored: bool
    response: dict[str, Any] | None
    votes: dict[str, int] = field(default_factory=dict)
    filed: str | None = None
    error: str | None = None
    # Kept in the local spool while the database is down; stored when it is back.
    queued: bool = False
    # The open notification a repeated report was added to.
    added: str | None = None


class FeedbackService:
    """Records thumbs and filed notifications; remembers recent answers to re-render cards."""

    def __init__(
        self,
        repo: Repository,
        supervisors: Sequence[str],
        state: StateLookup | None = None,
        index: Indexer | None = None,
        cache_size: int = 5000,
        spool: Spool | None = None,
        watch: DatabaseWatch | None = None,
        lifecycle: Lifecycle | None = None,
        cards: CardStore | None = None,
    ) -> None:
        self.repo = repo
        self.lifecycle = lifecycle
        self.spool = spool
        self.watch = watch
        self.supervisors = frozenset(supervisors)
        self._state = state
        self._index = index
        self._answers: LRUCache[str, Any] = LRUCache(cache_size)
        self._votes: LRUCache[str, Any] = LRUCache(cache_size)
        self._filed: LRUCache[str, Any] = LRUCache(cache_size)
        self._messages: LRUCache[str, Any] = LRUCache(cache_size)
        self._file_lock = asyncio.Lock()
        self.cards = CardTracker(cache_size, cards)

    # Answers ------------------------------------------------------------------------------

    def remember(self, response: Mapping[str, Any], message_id: str | None = None) -> None:
        """Keep a sent answer so a thumb on it can re-render its card."""
        answer_id = str(response.get("answer_id") or "")
        if not answer_id:
            return
        self._answers[answer_id] = _pack(response)
        if message_id:
            self._messages[message_id] = answer_id

    def filed(self, answer_id: str) -> str | None:
        """The number an answer's draft was filed as (as far as this process saw)."""
        value = self._filed.get(answer_id)
        return str(value) if value else None

    async def replacing(self, response: Mapping[str, Any]) -> SentCard | None:
        """Before a card is posted: it becomes its thread's current card; the one it replaces."""
        return await self.cards.replacing(
            str(response.get("thread") or ""),
            str(response.get("answer_id") or ""),
            str(response.get("kind") or "answer"),
            _pack(response) if self.cards.store is not None else "",
        )

    async def superseded(
        self,
        response: Mapping[str, Any],
        message_id: str | None,
        previous: SentCard | None,
        describe: bool = True,
    ) -> list[tuple[str, dict[str, Any], str | None]]:
        """After a card is posted as `message_id`: the cards to close, as (message id, its
        answer, the number its draft was filed as). The card it replaced (from `replacing`),
        and the card itself when a newer one replaced it before its message id was known.
        Without `describe` (the cards will not be closed) only their message ids are given."""
        thread = str(response.get("thread") or "")
        kind = str(response.get("kind") or "answer")
        answer_id = str(response.get("answer_id") or "")
        closing: list[tuple[str, SentCard]] = []
        if previous is not None and previous.message_id and previous.message_id != message_id:
            closing.append((previous.message_id, previous))
        if message_id and not await self.cards.posted(thread, answer_id, message_id, kind):
            closing.append((message_id, SentCard(answer_id, message_id, _pack(response))))
        if not describe:
            return [(message, {}, None) for message, _ in closing]
        out = []
        for message, card in closing:
            # Sent by another worker, the old card is known from the store only.
            old = self.cached(card.answer_id) or (_unpack(card.response) if card.response else None)
            if old is not None:
                out.append((message, old, await self._filed_as(card.answer_id, thread)))
        return out

    async def _filed_as(self, answer_id: str, thread: str) -> str | None:
        filed = self.filed(answer_id)
        if filed is None and self.cards.store is not None:
            try:
                record = await asyncio.to_thread(self.repo.filed_for_answer, answer_id)
                filed = record.itemno if record is not None else None
            except Exception:
                log.warning("filing of %s unknown: the closed card says nothing of it", thread)
        return filed

    def cached(self, answer_id: str) -> dict[str, Any] | None:
        """A remembered answer, without asking the conversation's state."""
        raw = self._answers.get(answer_id)
        return _unpack(raw) if raw else None

    def answer_for_message(self, message_id: str) -> str | None:
        """The answer id of a message the bot sent (Teams' own feedback buttons refer to it)."""
        value = self._messages.get(message_id)
        return str(value) if value else None

    async def answer(self, answer_id: str, thread: str) -> dict[str, Any] | None:
        """The answer from memory, or from the conversation's checkpoint if it is still last."""
        try:
            return await self._lookup(answer_id, thread)
        except DatabaseUnavailable:
            return None

    async def _lookup(self, answer_id: str, thread: str) -> dict[str, Any] | None:
        """`answer`, raising DatabaseUnavailable when only the database could tell."""
        cached = self._answers.get(answer_id)
        if cached is not None:
            return _unpack(cached)
        if self._state is None or not thread:
            return None
        try:
            values = await self._state(thread)
        except Exception as exc:
            outage = is_outage(exc)
            log.warning(
                "could not read conversation state for %s%s",
                thread,
                ": database unavailable" if outage else "",
                exc_info=not outage,
            )
            if outage:
                raise DatabaseUnavailable("conversation state unavailable") from exc
            return None
        last = values.get("last_answer") or {}
        if str(last.get("answer_id", "")) == answer_id:
            response = {**last, "thread": thread}
            self._answers[answer_id] = _pack(response)
            return response
        # A question card (its answer is not the state's last answer) sent by another worker.
        latest = await self.cards.latest(thread)
        if latest is not None and latest.answer_id == answer_id and latest.response:
            return _unpack(latest.response)
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
        if not answer_id or not itemno or vote not in (1, -1) or not user_id:
            return VoteResult(False, await self.answer(answer_id, thread), error="bad vote")
        try:
            response = await self._lookup(answer_id, thread)
        except DatabaseUnavailable:
            if self.spool is None:
                return VoteResult(False, None, error=UNAVAILABLE)
            # Another worker showed this answer and only the database knows it: the thumb waits
            # in the spool, and is checked like any other once the database is back.
            key = f"vote-unchecked:{channel}:{answer_id}:{itemno}:{user_id}"
            # Only what the vote reads, bounded: not whatever else the card action carried.
            payload = {
                "channel": channel,
                "user_id": user_id[:MAX_ID],
                "data": {
                    "answer_id": answer_id,
                    "itemno": itemno,
                    "vote": vote,
                    "thread": thread[:MAX_THREAD],
                },
                "comment": comment[:2000],
            }
            await asyncio.to_thread(self.spool.add, key, channel, UNCHECKED_KIND, payload, "", True)
            log.info("thumb on an answer of another worker kept until the database is back")
            return VoteResult(False, None, queued=True)
        if response is None:
            # Not an answer PMark showed (or one it no longer knows): a thumb on it would be a
            # relevance label nobody can check, and anyone holding the signing secret could
            # store them at will.
            log.info("vote on an unknown answer refused")
            return VoteResult(False, None, error="unknown answer")
        known = {str(r.get("itemno")) for r in response.get("recommendations") or []}
        if itemno not in known:
            return VoteResult(False, response, error="unknown recommendation")
        filed = self._filed.get(answer_id)
        if filed or await self.cards.is_current(thread, answer_id) is False:
            # The card lost its thumbs (filed, or replaced by a newer one): explained, not kept.
            return VoteResult(False, response, self.votes_of(answer_id, user_id), filed, STALE)
        view = response.get("notification") or {}
        record = FeedbackRecord(
            answer_id=answer_id,
            itemno=itemno,
            user_id=user_id[:MAX_ID],
            channel=channel,
            vote=vote,
            is_supervisor=user_id in self.supervisors,
            query=str(response.get("query") or "")[:4000],
            equipment=_code(view.get("equipment")),
            failure_mode=_code(view.get("failure_mode")),
            comment=comment[:2000],
        )
        stored, queued = await self._record(record)
        if stored:
            FEEDBACK.labels("up" if vote > 0 else "down").inc()
        key = f"{answer_id}\x00{user_id}"
        votes = dict(self._votes.get(key) or {})
        votes[itemno] = vote
        self._votes[key] = votes
        return VoteResult(stored, response, votes, self._filed.get(answer_id), queued=queued)

    async def answer_feedback(
        self, channel: str, user_id: str, answer_id: str, vote: int, comment: str = ""
    ) -> bool:
        """Feedback on a whole answer (Teams' built-in buttons): stored as user feedback only."""
        if vote not in (1, -1) or not user_id or not answer_id:
            return False
        cached = self._answers.get(answer_id)
        response = _unpack(cached) if cached else {}
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
        stored, queued = await self._record(record)
        return stored or queued

    async def _record(self, record: FeedbackRecord) -> tuple[bool, bool]:
        """Store a thumb: (stored, queued). While the database is down it waits in the spool,
        keyed by answer, item and user, so the last vote of each is stored once later."""
        try:
            if self.watch is not None and self.watch.blocking:
                raise DatabaseUnavailable("the database is unavailable")
            try:
                return await asyncio.to_thread(self.repo.record_feedback, record), False
            except Exception as exc:
                # A connection killed under the call: once more if the database is there
                # (storing a thumb twice changes nothing).
                if self.watch is None or not is_outage(exc) or not await self.watch.probe_now():
                    raise
            DB_RETRIES.labels("feedback").inc()
            return await asyncio.to_thread(self.repo.record_feedback, record), False
        except Exception as exc:
            if self.spool is None or not is_outage(exc):
                raise
            if self.watch is not None:
                self.watch.failed(exc)
            key = f"vote:{record.channel}:{record.answer_id}:{record.itemno}:{record.user_id}"
            await asyncio.to_thread(
                self.spool.add, key, record.channel, SPOOL_KIND, asdict(record), "", True
            )
            log.info("thumb kept in the spool until the database is back", extra={"key": key})
            return False, True

    async def replay(self, item: SpoolItem) -> None:
        """Store a spooled thumb (idempotent: a vote stored before changes nothing)."""
        record = FeedbackRecord(**item.payload)
        await asyncio.to_thread(self.repo.record_feedback, record)

    async def replay_unchecked(self, item: SpoolItem) -> None:
        """Check and store a thumb given while its answer could not be looked up."""
        p = item.payload
        data = p.get("data") if isinstance(p.get("data"), dict) else {}
        result = await self.vote(
            str(p.get("channel") or ""),
            str(p.get("user_id") or ""),
            data,
            str(p.get("comment") or ""),
        )
        if result.queued and result.response is None:
            # Still (or again) down: the vote kept itself under the same key; keep it for later.
            raise DatabaseUnavailable("the database is still unavailable")
        if result.error:
            log.info("spooled thumb not stored: %s", result.error)

    # Filing -------------------------------------------------------------------------------

    async def file(self, channel: str, user_id: str, data: Mapping[str, Any]) -> VoteResult:
        """File the drafted notification once per answer (agent/lifecycle.py's rules: an open
        notification on the same machine stops it unless the data says `force`)."""
        answer_id = str(data.get("answer_id") or "")[:MAX_ID]
        thread = str(data.get("thread") or "")
        response = await self.answer(answer_id, thread) if answer_id else None
        votes = self.votes_of(answer_id, user_id)
        if response is None:
            return VoteResult(False, None, votes, self._filed.get(answer_id), "unknown answer")
        if not self._filed.get(answer_id):
            # A superseded draft is never filed, nor one missing a required field.
            if await self.cards.is_current(thread, answer_id) is False:
                return VoteResult(False, response, votes, None, STALE)
            if not can_file(response):
                return VoteResult(False, response, votes, None, INCOMPLETE)
        if self.lifecycle is None:
            return VoteResult(False, response, votes, None, "filing is not available")
        async with self._file_lock:
            already = self._filed.get(answer_id)
            if already:
                return VoteResult(False, response, votes, already)
            try:
                if self.watch is not None and self.watch.blocking:
                    raise DatabaseUnavailable("the database is unavailable")
                outcome = await asyncio.to_thread(
                    self.lifecycle.file, response, channel, user_id, bool(data.get("force"))
                )
            except Exception as exc:
                if not is_outage(exc):
                    raise
                # Not spooled: filing makes a new notification number, which needs the
                # database; the user is asked to press again.
                if self.watch is not None:
                    self.watch.failed(exc)
                return VoteResult(False, response, votes, None, UNAVAILABLE)
            if outcome.number is None:
                warned = {**response, "duplicates": [d.as_dict() for d in outcome.duplicates]}
                self._answers[answer_id] = _pack(warned)
                return VoteResult(False, warned, votes, None)
            self._filed[answer_id] = outcome.number
        return VoteResult(not outcome.already, response, votes, outcome.number)

    async def add_to(self, channel: str, user_id: str, data: Mapping[str, Any]) -> VoteResult:
        """'Same problem: add to it': the report joins the open notification, nothing is filed."""
        answer_id = str(data.get("answer_id") or "")[:MAX_ID]
        number = str(data.get("number") or "")[:64]
        response = await self.answer(answer_id, str(data.get("thread") or ""))
        votes = self.votes_of(answer_id, user_id)
        if response is None or not number or self.lifecycle is None:
            return VoteResult(False, response, votes, None, "unknown answer")
        try:
            record = await asyncio.to_thread(
                self.lifecycle.add_to, number, response, channel, user_id
            )
        except Exception as exc:
            if not is_outage(exc):
                raise
            return VoteResult(False, response, votes, None, UNAVAILABLE)
        if record is None:
            return VoteResult(False, response, votes, None, "not open")
        added = {**response, "added": record.itemno, "duplicates": []}
        self._answers[answer_id] = _pack(added)
        return VoteResult(True, added, votes, added=record.itemno)


# orjson, with the stdlib's output for what orjson would write differently (dates, dataclasses:
# str() as before); the stdlib only for what orjson refuses (a lone surrogate). Packing and
# unpacking every card and click was 2% of a busy process's CPU with the stdlib alone.
_PACK_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _pack(response: Mapping[str, Any]) -> str:
    """A remembered answer as one JSON string.

    Thousands of answers kept as nested dicts are hundreds of thousands of objects every full
    garbage collection walks while holding the GIL (an event-loop stall that grows with the
    cache); a string is one object the collector does not track.
    """
    try:
        return orjson.dumps(response, default=str, option=_PACK_OPTIONS).decode()
    except TypeError:
        return json.dumps(response, ensure_ascii=False, default=str)


def _unpack(raw: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:  # a lone surrogate, kept by the stdlib's writer
        value = json.loads(raw)
    return value if isinstance(value, dict) else {}


def _code(value: Any) -> str | None:
    if isinstance(value, Mapping) and value.get("code"):
        return str(value["code"])
    return None
