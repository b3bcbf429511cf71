"""What a CMMS target is: something that takes one outbox event, or says why it could not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from adapters.sql.lifecycle import OutboxEvent


class DeliveryError(Exception):
    """The target did not take the event; the outbox tries again later."""


@dataclass(frozen=True)
class Delivered:
    """A delivered event, with the CMMS's own key of the notification when it gave one."""

    remote_id: str | None = None


class Target(Protocol):
    """A CMMS endpoint. Delivering the same event twice must change nothing there: every request
    carries the event's idempotency key."""

    name: str

    async def deliver(self, event: OutboxEvent, remote_id: str | None) -> Delivered:
        """Hand one event over; raise DeliveryError (or an httpx error) when it was not taken."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
