"""The signed webhook target: our event as JSON, HMAC-SHA256 over the exact body bytes.

Headers: `X-PMark-Signature: sha256=<hex>`, `Idempotency-Key: <event key>`, `X-PMark-Event:
filed|updated|closed`. A receiver recomputes the HMAC over the raw body with the shared secret,
compares in constant time, and applies each idempotency key once (docs/cmms.md has an example).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from adapters.cmms.base import Delivered, DeliveryError
from adapters.sql.lifecycle import OutboxEvent

SIGNATURE_HEADER = "X-PMark-Signature"
KEY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-PMark-Event"


def event_body(event: OutboxEvent) -> bytes:
    """The JSON body of an event (stable: the same event gives the same bytes)."""
    document: dict[str, Any] = {
        "event_key": event.event_key,
        "event": event.event,
        "number": event.itemno,
        "occurred_at": event.created_at.isoformat(),
        "notification": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, body: bytes) -> str:
    """The signature header value of a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver checks (constant-time)."""
    return hmac.compare_digest(sign(secret, body), header or "")


class WebhookTarget:
    """POSTs each event to one URL."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def deliver(self, event: OutboxEvent, remote_id: str | None) -> Delivered:
        """One POST; 2xx (or 409: the receiver has the key already) counts as delivered."""
        body = event_body(event)
        response = await self._client.post(
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                SIGNATURE_HEADER: sign(self._secret, body),
                KEY_HEADER: event.event_key,
                EVENT_HEADER: event.event,
            },
        )
        if response.is_success or response.status_code == 409:
            return Delivered(remote_id)
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
