"""Which card of each conversation is current, so older cards can be closed and stale presses
explained instead of acted on."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

STALE = "stale card"
# Cards that replace the conversation's previous card; a detail card only adds to the answer.
SUPERSEDING_KINDS = ("answer", "question", "error")
INCOMPLETE = "incomplete draft"


@dataclass(frozen=True)
class SentCard:
    """A card the bot sent: its answer and its message (Teams activity id, Slack ts)."""

    answer_id: str
    message_id: str


class CardTracker:
    """The latest card of each conversation thread (in this process, LRU-bounded)."""

    def __init__(self, size: int = 5000) -> None:
        self._latest: OrderedDict[str, SentCard] = OrderedDict()
        self._size = size

    def sent(
        self, thread: str, answer_id: str, message_id: str | None, kind: str = "answer"
    ) -> SentCard | None:
        """Record a new card; the card it supersedes (another message), if any."""
        if not thread or not answer_id or kind not in SUPERSEDING_KINDS:
            return None
        previous = self._latest.get(thread)
        self._latest[thread] = SentCard(answer_id, message_id or "")
        self._latest.move_to_end(thread)
        while len(self._latest) > self._size:
            self._latest.popitem(last=False)
        if previous is None or not previous.message_id or previous.message_id == message_id:
            return None
        return previous

    def is_current(self, thread: str, answer_id: str) -> bool | None:
        """Whether the answer's card is the thread's latest; None when this process never saw
        the thread (after a restart: then the press is trusted)."""
        latest = self._latest.get(thread)
        if latest is None:
            return None
        return latest.answer_id == answer_id

    def latest(self, thread: str) -> SentCard | None:
        """The thread's latest card."""
        return self._latest.get(thread)
