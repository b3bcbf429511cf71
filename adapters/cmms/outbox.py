"""The outbox worker: delivers lifecycle events to the CMMS with retries, backoff and idempotency.

Events live in the database (written with the change they describe), so a target that is down,
or a PMark restart mid-delivery, loses nothing: an event stays pending until the target took it.
Events of one notification go in order; a failing one holds back its successors, not others.
Each attempt leases the event (another replica skips it); a crash leaves the lease to expire.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

from adapters.cmms.base import Target
from adapters.settings import Settings
from adapters.sql.repository import Repository, utcnow

log = logging.getLogger(__name__)


def make_target(settings: Settings) -> Target | None:
    """The configured target, or None when there is no hand-over."""
    kind = (settings.cmms_target or "").strip().lower()
    if not kind or not settings.cmms_url:
        return None
    secret = settings.cmms_secret.get_secret_value() if settings.cmms_secret else ""
    if kind == "webhook":
        from adapters.cmms.webhook import WebhookTarget

        if not secret:
            raise ValueError("PMARK_CMMS_SECRET is required to sign webhook deliveries")
        return WebhookTarget(settings.cmms_url, secret, settings.cmms_timeout)
    if kind == "sap":
        from adapters.cmms.sap import SapTarget

        return SapTarget(
            settings.cmms_url,
            settings.cmms_user,
            secret or None,
            settings.cmms_sap_notification_type,
            settings.cmms_sap_code_group,
            settings.cmms_timeout,
        )
    raise ValueError(f"unknown PMARK_CMMS_TARGET {kind!r} (webhook or sap)")


class OutboxWorker:
    """Delivers pending outbox events to one target."""

    def __init__(
        self,
        repo: Repository,
        target: Target,
        *,
        poll_seconds: float = 2.0,
        base_backoff: float = 1.0,
        max_backoff: float = 600.0,
        lease_seconds: float = 30.0,
        batch: int = 100,
    ) -> None:
        self.repo = repo
        self.target = target
        self.poll_seconds = poll_seconds
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.lease_seconds = lease_seconds
        self.batch = batch

    @classmethod
    def from_settings(cls, repo: Repository, settings: Settings) -> OutboxWorker | None:
        """A worker for the configured target, or None without one."""
        target = make_target(settings)
        if target is None:
            return None
        return cls(
            repo,
            target,
            poll_seconds=settings.cmms_poll_seconds,
            max_backoff=settings.cmms_max_backoff,
            lease_seconds=settings.cmms_timeout * 2 + 5,
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`: exponential, capped, with jitter."""
        delay = min(self.max_backoff, self.base_backoff * 2.0 ** max(0, attempts - 1))
        return float(delay * random.uniform(0.5, 1.0))

    async def run_once(self) -> int:
        """One pass over the due events; the number delivered."""
        events = await asyncio.to_thread(self.repo.pending_outbox, self.batch)
        held: set[str] = set()
        delivered = 0
        for event in events:
            now = utcnow()
            if event.itemno in held:
                continue
            leased = event.leased_until is not None and event.leased_until > now
            if event.next_attempt_at > now or leased:
                held.add(event.itemno)  # keep this notification's events in order
                continue
            until = now + timedelta(seconds=self.lease_seconds)
            if not await asyncio.to_thread(self.repo.lease_outbox, event.id, now, until):
                held.add(event.itemno)
                continue
            remote = None
            if event.event != "filed":
                remote = await asyncio.to_thread(self.repo.outbox_remote_id, event.itemno)
            attempts = event.attempts + 1
            try:
                result = await self.target.deliver(event, remote)
            except Exception as exc:
                held.add(event.itemno)
                wait = self.backoff(attempts)
                error = f"{type(exc).__name__}: {exc}"
                await asyncio.to_thread(
                    self.repo.outbox_failed,
                    event.id,
                    attempts,
                    error,
                    utcnow() + timedelta(seconds=wait),
                )
                log.warning(
                    "CMMS delivery of %s (%s) failed, attempt %d; next in %.1f s: %s",
                    event.itemno,
                    event.event,
                    attempts,
                    wait,
                    error,
                )
                continue
            await asyncio.to_thread(
                self.repo.outbox_delivered, event.id, attempts, result.remote_id or remote
            )
            delivered += 1
            log.info(
                "CMMS delivered",
                extra={"itemno": event.itemno, "event": event.event, "key": event.event_key},
            )
        return delivered

    async def tick(self) -> None:
        """One pass for a periodic job (errors are logged by the job runner)."""
        await self.run_once()

    async def run_forever(self) -> None:
        """Pass after pass until cancelled; a database or target outage only delays."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("CMMS outbox pass failed", exc_info=True)
            await asyncio.sleep(self.poll_seconds)

    async def aclose(self) -> None:
        """Close the target's connections."""
        await self.target.aclose()
