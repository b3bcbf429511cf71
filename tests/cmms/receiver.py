"""A CMMS on loopback (aiohttp): a signed-webhook receiver and an SAP API_MAINTNOTIFICATION
stand-in. It checks every payload's shape, applies each idempotency key once, and plays outages
from a script: 503s, answers slower than PMark's timeout, and requests it takes but never answers
(PMark is killed meanwhile)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.cmms.webhook import verify

SECRET = "whsec-test-4f1c9a"
CSRF = "csrf-token-77"


@dataclass
class Receiver:
    """Records what arrived; `plan` holds what the next requests get ('503', 'slow', 'hang')."""

    plan: deque[str] = field(default_factory=deque)
    slow_seconds: float = 2.0
    received: list[dict[str, Any]] = field(default_factory=list)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    sap: dict[str, dict[str, Any]] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    hung: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_get("/sap/", self._sap_root)
        app.router.add_post("/sap/MaintenanceNotification", self._sap_create)
        app.router.add_patch("/sap/MaintenanceNotification('{key}')", self._sap_change)
        app.router.add_post("/sap/CompleteMaintNotification", self._sap_complete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _outage(self) -> web.Response | None:
        """What the script says for this request (None: answer normally)."""
        step = self.plan.popleft() if self.plan else "ok"
        if step == "503":
            return web.Response(status=503, text="maintenance window")
        if step == "slow":
            await asyncio.sleep(self.slow_seconds)
        return None

    def _problem(self, text: str) -> web.Response:
        self.problems.append(text)
        return web.Response(status=400, text=text)

    # Webhook ----------------------------------------------------------------------------

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        key = request.headers.get("Idempotency-Key", "")
        self.received.append({"key": key, "event": request.headers.get("X-PMark-Event")})
        hang = bool(self.plan) and self.plan[0] == "hang"
        if hang:
            self.plan.popleft()
        else:
            early = await self._outage()
            if early is not None:
                return early
        if not verify(SECRET, raw, request.headers.get("X-PMark-Signature", "")):
            return self._problem("bad signature")
        body = json.loads(raw)
        if set(body) != {"event_key", "event", "number", "occurred_at", "notification"}:
            return self._problem(f"unexpected keys {sorted(body)}")
        n = body["notification"]
        if body["event_key"] != key or body["event"] not in ("filed", "updated", "closed"):
            return self._problem("key or event mismatch")
        if n.get("itemno") != body["number"] or n.get("status") not in (
            "open",
            "in_progress",
            "closed",
        ):
            return self._problem("notification shape")
        if body["event"] == "closed" and not n.get("resolution"):
            return self._problem("closed without a resolution")
        if key not in self.applied:
            self.applied[key] = body  # applied once, whatever the retries
        if hang:
            # Taken and applied, but the answer never comes: PMark is killed meanwhile.
            self.hung.set()
            try:
                await asyncio.wait_for(self.release.wait(), 30)
            except TimeoutError:
                pass
        return web.json_response({"ok": True}, status=200)

    # SAP --------------------------------------------------------------------------------

    async def _sap_root(self, request: web.Request) -> web.Response:
        if request.headers.get("X-CSRF-Token") != "Fetch":
            return self._problem("token fetch without X-CSRF-Token: Fetch")
        return web.json_response({"d": {"EntitySets": []}}, headers={"x-csrf-token": CSRF})

    def _sap_checks(self, request: web.Request) -> web.Response | None:
        if request.headers.get("X-CSRF-Token") != CSRF:
            return web.Response(status=403, headers={"x-csrf-token": "Required"})
        if not request.headers.get("Repeatability-Request-ID"):
            return self._problem("no Repeatability-Request-ID")
        return None

    async def _sap_create(self, request: web.Request) -> web.Response:
        key = request.headers.get("Repeatability-Request-ID", "")
        self.received.append({"key": key, "event": "create"})
        early = self._sap_checks(request) or await self._outage()
        if early is not None:
            return early
        body = await request.json()
        if not isinstance(body.get("NotificationText"), str) or len(body["NotificationText"]) > 40:
            return self._problem("NotificationText")
        if body.get("NotificationType") != "M1" or body.get("MaintPriorityType") != "PM":
            return self._problem("type or priority type")
        if body.get("MaintPriority") not in ("1", "2", "3", "4"):
            return self._problem("MaintPriority")
        if body.get("TechObjIsEquipOrFuncnlLoc") not in ("EAMS_EQUI", "EAMS_FL"):
            return self._problem("technical object kind")
        item = (body.get("to_Item") or [{}])[0]
        if not item.get("MaintNotificationDamageCode") or not item.get("MaintNotifDamageCodeGroup"):
            return self._problem("damage code")
        if key not in self.applied:
            number = f"1000{len(self.sap) + 1:04d}"
            self.applied[key] = body
            self.sap[number] = dict(body)
        number = next(n for n, b in self.sap.items() if b == self.applied[key])
        return web.json_response({"d": {**body, "MaintenanceNotification": number}}, status=201)

    async def _sap_change(self, request: web.Request) -> web.Response:
        key = request.headers.get("Repeatability-Request-ID", "")
        self.received.append({"key": key, "event": "change"})
        early = self._sap_checks(request) or await self._outage()
        if early is not None:
            return early
        number = request.match_info["key"]
        if number not in self.sap or request.headers.get("If-Match") != "*":
            return self._problem(f"change of unknown {number}")
        self.sap[number].update(await request.json())
        self.applied.setdefault(key, {"change": number})
        return web.Response(status=204)

    async def _sap_complete(self, request: web.Request) -> web.Response:
        key = request.headers.get("Repeatability-Request-ID", "")
        self.received.append({"key": key, "event": "complete"})
        early = self._sap_checks(request) or await self._outage()
        if early is not None:
            return early
        number = request.query.get("MaintenanceNotification", "").strip("'")
        if number not in self.sap:
            return self._problem(f"completion of unknown {number}")
        if key not in self.applied:
            self.applied[key] = {"complete": number}
            self.completed.append(number)
        return web.json_response({"d": {"MaintenanceNotification": number}})
