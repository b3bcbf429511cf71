"""The notification lifecycle as one service for every channel and the CLI.

Filing (with the duplicate check at intake), adding a report to an open notification, marking
it in progress, and closing it with its resolution, which the search index learns at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.domain import Notification
from adapters.settings import Settings
from adapters.sql.lifecycle import NewNotification, NotificationRecord
from adapters.sql.repository import Repository, utcnow
from agent.report import title_and_details

log = logging.getLogger(__name__)

Indexer = Callable[[Sequence[Notification]], object]
# What the `source` column says for each channel prefix of a thread id.
SOURCES = {"teams": "teams", "slack": "slack", "cli": "chat", "chat": "chat"}


@dataclass(frozen=True)
class Duplicate:
    """An open notification a new report may repeat."""

    number: str
    status: str
    created_at: datetime
    filed_by: str | None
    source: str
    title: str

    def age_days(self, now: datetime | None = None) -> float:
        """Days since it was filed."""
        return max(0.0, ((now or utcnow()) - self.created_at).total_seconds() / 86400)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form carried in the response."""
        return {
            "number": self.number,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "filed_by": self.filed_by,
            "source": self.source,
            "title": self.title,
        }


@dataclass
class FileOutcome:
    """What a request to file did: a number, or the duplicates that stopped it."""

    number: str | None
    duplicates: list[Duplicate] = field(default_factory=list)
    already: bool = False
    record: NotificationRecord | None = None


def source_of(channel: str) -> str:
    """The stored source of a channel name or thread id ('teams:…' -> 'teams')."""
    prefix = channel.split(":", 1)[0]
    return SOURCES.get(prefix, prefix or "pmark")


def _code(value: Any) -> str | None:
    if isinstance(value, Mapping) and value.get("code"):
        return str(value["code"])
    return None


def _duplicate(r: NotificationRecord) -> Duplicate:
    return Duplicate(r.itemno, r.status, r.created_at, r.filed_by, r.source, r.title)


def draft_from_response(response: Mapping[str, Any], channel: str, user: str) -> NewNotification:
    """The notification a drafted answer files (catalog codes, title, details, top fix)."""
    view = response.get("notification") or {}
    title, details = title_and_details(response, source_of(channel), user)
    tag = view.get("equipment_tag")
    recs = list(response.get("recommendations") or [])
    top = recs[0] if recs else {}
    return NewNotification(
        location=_code(view.get("location")),
        equipment=_code(view.get("equipment")),
        failure_mode=_code(view.get("failure_mode")),
        priority=_code(view.get("priority")),
        title=title,
        details=details,
        source=source_of(channel),
        filed_by=user[:128] or "unknown",
        equipment_tag=str(tag)[:64] if tag else None,
        thread_id=str(response.get("thread") or "")[:400] or None,
        answer_id=str(response.get("answer_id") or "")[:128] or None,
        recommended_itemno=str(top.get("itemno")) if top.get("itemno") else None,
        recommended_fix=str(top.get("resolution") or "") or None,
    )


class Lifecycle:
    """Files, adds to, and closes notifications; the same rules for cards, chat and CLI."""

    def __init__(self, repo: Repository, settings: Settings, index: Indexer | None = None) -> None:
        self.repo = repo
        self.window_days = float(settings.duplicate_window_days)
        # Events are written only when there is a CMMS to hand them to.
        self.outbox = bool(settings.cmms_target)
        self._index = index

    # Duplicates ---------------------------------------------------------------------------

    def duplicates(self, view: Mapping[str, Any] | None) -> list[Duplicate]:
        """Open notifications on the same machine within the window (newest first)."""
        if not view or self.window_days <= 0:
            return []
        tag = view.get("equipment_tag")
        equipment = _code(view.get("equipment"))
        since = utcnow() - timedelta(days=self.window_days)
        found = self.repo.open_duplicates(
            equipment, _code(view.get("location")), str(tag) if tag else None, since
        )
        return [_duplicate(r) for r in found]

    def annotate(self, response: dict[str, Any]) -> dict[str, Any]:
        """Add the duplicates of a drafted answer to it (the card shows them first)."""
        if response.get("kind") == "answer":
            response["duplicates"] = [
                d.as_dict() for d in self.duplicates(response.get("notification"))
            ]
        return response

    # Filing -------------------------------------------------------------------------------

    def file(
        self, response: Mapping[str, Any], channel: str, user: str, force: bool = False
    ) -> FileOutcome:
        """File a drafted answer once; unless forced, an open duplicate stops it."""
        answer_id = str(response.get("answer_id") or "")[:128]
        if answer_id:
            known = self.repo.filed_for_answer(answer_id)
            if known is not None:
                return FileOutcome(known.itemno, already=True, record=known)
        if not force:
            found = self.duplicates(response.get("notification"))
            if found:
                return FileOutcome(None, found)
        if answer_id and not self.repo.claim_event(f"file:{answer_id}"):
            known = self.repo.filed_for_answer(answer_id)
            return FileOutcome(known.itemno if known else "✓", already=True, record=known)
        record = self.repo.file_new(draft_from_response(response, channel, user), self.outbox)
        self._reindex(record)
        log.info("notification filed", extra={"itemno": record.itemno, "channel": channel})
        return FileOutcome(record.itemno, record=record)

    def add_to(
        self, number: str, response: Mapping[str, Any], channel: str, user: str
    ) -> NotificationRecord | None:
        """Append a repeated report to an open notification instead of filing a new one."""
        answer_id = str(response.get("answer_id") or "")
        text = str(response.get("query") or "").strip() or "(same problem)"
        if answer_id and not self.repo.claim_event(f"add:{answer_id}:{number}"[:300]):
            return self.repo.lifecycle_record(number)  # a double click: added once
        record = self.repo.append_report(
            number, f"{text} ({source_of(channel)})", user or "unknown", self.outbox
        )
        if record is not None:
            self._reindex(record)
        return record

    # Status -------------------------------------------------------------------------------

    def start(self, number: str) -> NotificationRecord | None:
        """Mark a notification in progress."""
        return self.repo.set_in_progress(number, self.outbox)

    def close(
        self, number: str, resolution: str, user: str
    ) -> tuple[NotificationRecord | None, bool]:
        """Close with the resolution; the index learns the fix at once."""
        record, closed = self.repo.close_notification(
            number, resolution, user or "unknown", self.outbox
        )
        if closed and record is not None:
            self._reindex(record)
            log.info("notification closed", extra={"itemno": number})
        return record, closed

    def close_in_thread(
        self, thread_id: str, resolution: str, user: str
    ) -> tuple[NotificationRecord | None, bool]:
        """Close the newest open notification filed from a conversation."""
        record = self.repo.open_in_thread(thread_id)
        if record is None:
            return None, False
        return self.close(record.itemno, resolution, user)

    def list(self, status: str | None = None) -> list[NotificationRecord]:
        """Notifications newest first, optionally of one status."""
        return self.repo.list_notifications(status)

    def _reindex(self, record: NotificationRecord) -> None:
        if self._index is None:
            return
        try:
            self._index([record.notification()])
        except Exception:
            log.warning("could not index %s", record.itemno, exc_info=True)
