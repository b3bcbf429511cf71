"""Which card of each conversation is current, so older cards can be closed and stale presses
explained instead of acted on."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import astuple, dataclass

from adapters.sql.cards import CardStore, StoredCard

log = logging.getLogger(__name__)

STALE = "stale card"
# Cards that replace the conversation's previous card; a detail card only adds to the answer.
SUPERSEDING_KINDS = ("answer", "question", "error")
INCOMPLETE = "incomplete draft"


@dataclass(frozen=True)
class SentCard:
    """A card the bot sent: its answer and its message (Teams activity id, Slack ts)."""

    answer_id: str
    message_id: str
    response: str = ""  # its answer, packed, when known


class CardTracker:
    """The latest card of each conversation thread.

    In this process (LRU-bounded) by default; with a `CardStore`, in the application database,
    so that every worker and replica agrees on which card is current whichever one sent it. A
    database error then falls back to this process's own view (logged): a turn is never lost
    to card bookkeeping.
    """

    def __init__(self, size: int = 5000, store: CardStore | None = None) -> None:
        self._latest: OrderedDict[str, SentCard] = OrderedDict()
        self._size = size
        self.store = store

    def _remember(self, thread: str, card: SentCard) -> SentCard | None:
        previous = self._latest.get(thread)
        self._latest[thread] = card
        self._latest.move_to_end(thread)
        while len(self._latest) > self._size:
            self._latest.popitem(last=False)
        return previous

    async def replacing(
        self, thread: str, answer_id: str, kind: str = "answer", response: str = ""
    ) -> SentCard | None:
        """Make a card about to be posted its thread's current one (a thumb pressed the moment
        it shows must find it current); the card it replaces, with that card's packed answer
        when the store had it."""
        if not thread or not answer_id or kind not in SUPERSEDING_KINDS:
            return None
        previous = self._remember(thread, SentCard(answer_id, "", response))
        if self.store is not None:
            try:
                stored = await asyncio.to_thread(
                    self.store.swap, thread, StoredCard(answer_id, "", response)
                )
                previous = None if stored is None else SentCard(*astuple(stored))
            except Exception:
                log.warning("card of %s not stored; this process's view is used", thread)
        return previous

    async def posted(
        self, thread: str, answer_id: str, message_id: str | None, kind: str = "answer"
    ) -> bool:
        """The message a current card was posted as (the one to close when it is replaced);
        False when a newer card replaced it while it was being posted: then the poster closes
        it, since whoever replaced it could not."""
        if not thread or not answer_id or not message_id or kind not in SUPERSEDING_KINDS:
            return True
        mine = self._latest.get(thread)
        current = mine is not None and mine.answer_id == answer_id
        if mine is not None and current:
            self._latest[thread] = SentCard(answer_id, message_id, mine.response)
        if self.store is not None:
            try:
                current = await asyncio.to_thread(self.store.posted, thread, answer_id, message_id)
            except Exception:
                log.warning("message of the card of %s not stored", thread)
        return current

    async def latest(self, thread: str) -> SentCard | None:
        """The thread's latest card."""
        if self.store is not None and thread:
            try:
                stored = await asyncio.to_thread(self.store.latest, thread)
                return None if stored is None else SentCard(*astuple(stored))
            except Exception:
                log.warning("latest card of %s unreadable; this process's view is used", thread)
        return self._latest.get(thread)

    async def is_current(self, thread: str, answer_id: str) -> bool | None:
        """Whether the answer's card is the thread's latest; None when no card of the thread is
        known (after a restart without a store: then the press is trusted)."""
        latest = await self.latest(thread)
        if latest is None:
            return None
        return latest.answer_id == answer_id
