"""SAP PM target: the OData V2 service API_MAINTNOTIFICATION, entity MaintenanceNotification.

Mapping (docs/cmms.md): title -> NotificationText (40 characters), tag (else location as a
functional location) -> TechnicalObject with TechObjIsEquipOrFuncnlLoc, priority 1..4 ->
MaintPriority (type PM), failure mode -> damage code and equipment -> object-part code of one
item (code group from settings), details and resolution -> MaintNotifLongTextForEdit.
Every modifying request carries the event's key as `Repeatability-Request-ID` (OData
repeatability) and `Idempotency-Key`, after a CSRF token fetch as SAP Gateway requires.
"""

from __future__ import annotations

from typing import Any

import httpx

from adapters.cmms.base import Delivered, DeliveryError
from adapters.sql.lifecycle import OutboxEvent

ENTITY_SET = "MaintenanceNotification"


def long_text(p: dict[str, Any]) -> str:
    """The long text: what was reported, who filed it where, and what fixed it."""
    lines = [str(p.get("details") or p.get("title") or "")]
    lines.append(f"PMark {p.get('itemno')} · {p.get('source')} · {p.get('filed_by') or '-'}")
    if p.get("resolution"):
        lines.append(f"Resolution: {p['resolution']}")
    return "\n".join(line for line in lines if line)


def notification_payload(
    p: dict[str, Any], notification_type: str, code_group: str
) -> dict[str, Any]:
    """The MaintenanceNotification body of a filed notification (deep insert of one item)."""
    body: dict[str, Any] = {
        "NotificationText": str(p.get("title") or "")[:40],
        "NotificationType": notification_type,
        "MaintNotifLongTextForEdit": long_text(p),
    }
    if p.get("priority"):
        body["MaintPriority"] = str(p["priority"])
        body["MaintPriorityType"] = "PM"
    if p.get("equipment_tag"):
        body["TechnicalObject"] = str(p["equipment_tag"])
        body["TechObjIsEquipOrFuncnlLoc"] = "EAMS_EQUI"
    elif p.get("location"):
        body["TechnicalObject"] = str(p["location"])
        body["TechObjIsEquipOrFuncnlLoc"] = "EAMS_FL"
    item: dict[str, Any] = {}
    if p.get("failure_mode"):
        item["MaintNotifDamageCodeGroup"] = code_group
        item["MaintNotificationDamageCode"] = str(p["failure_mode"])
    if p.get("equipment"):
        item["MaintNotifObjPrtCodeGroup"] = code_group
        item["MaintNotifObjPrtCode"] = str(p["equipment"])
    if item:
        item["MaintNotifItemText"] = str(p.get("title") or "")[:40]
        body["to_Item"] = [item]
    return body


def change_payload(p: dict[str, Any]) -> dict[str, Any]:
    """The PATCH body of an update or a closing: the long text (with the resolution)."""
    body: dict[str, Any] = {"MaintNotifLongTextForEdit": long_text(p)}
    if p.get("priority"):
        body["MaintPriority"] = str(p["priority"])
    return body


def _quoted(key: str) -> str:
    return "'" + key.replace("'", "''") + "'"


class SapTarget:
    """Creates, changes and completes SAP PM notifications."""

    name = "sap"

    def __init__(
        self,
        root: str,
        user: str | None,
        password: str | None,
        notification_type: str = "M1",
        code_group: str = "PMARK",
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.notification_type = notification_type
        self.code_group = code_group
        auth = httpx.BasicAuth(user, password or "") if user else None
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, auth=auth)
        self._csrf: str | None = None

    async def _token(self) -> str:
        if self._csrf is None:
            r = await self._client.get(self.root + "/", headers={"X-CSRF-Token": "Fetch"})
            if not r.is_success:
                raise DeliveryError(f"SAP CSRF token fetch answered HTTP {r.status_code}")
            self._csrf = r.headers.get("x-csrf-token", "")
        return self._csrf

    async def _send(self, method: str, path: str, key: str, body: Any = None) -> httpx.Response:
        for _ in range(2):
            headers = {
                "X-CSRF-Token": await self._token(),
                "Accept": "application/json",
                "Repeatability-Request-ID": key,
                "Idempotency-Key": key,
            }
            if method == "PATCH":
                headers["If-Match"] = "*"
            r = await self._client.request(method, self.root + path, json=body, headers=headers)
            if r.status_code == 403 and r.headers.get("x-csrf-token", "").lower() == "required":
                self._csrf = None  # the session expired: fetch a fresh token once
                continue
            return r
        return r

    async def deliver(self, event: OutboxEvent, remote_id: str | None) -> Delivered:
        """Filed: POST; updated: PATCH; closed: PATCH the resolution, then complete it."""
        p = event.payload
        key = event.event_key
        if event.event == "filed":
            body = notification_payload(p, self.notification_type, self.code_group)
            r = await self._send("POST", f"/{ENTITY_SET}", key, body)
            if not r.is_success:
                raise DeliveryError(f"SAP create answered HTTP {r.status_code}")
            try:
                created = r.json().get("d", {})
            except ValueError:
                created = {}
            return Delivered(str(created.get("MaintenanceNotification") or "") or None)
        if not remote_id:
            raise DeliveryError(f"{event.itemno} has no SAP notification yet")
        entity = f"/{ENTITY_SET}({_quoted(remote_id)})"
        r = await self._send("PATCH", entity, f"{key}-change", change_payload(p))
        if not r.is_success:
            raise DeliveryError(f"SAP change answered HTTP {r.status_code}")
        if event.event == "closed":
            path = f"/CompleteMaintNotification?MaintenanceNotification={_quoted(remote_id)}"
            r = await self._send("POST", path, f"{key}-complete")
            if not r.is_success:
                raise DeliveryError(f"SAP completion answered HTTP {r.status_code}")
        return Delivered(remote_id)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
