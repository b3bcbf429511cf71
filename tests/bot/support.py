"""Test doubles speaking the real protocols: a Bot Connector + AAD token + OpenID/JWKS server and
a Slack Web API server on loopback, JWTs signed by a test RSA key, Slack v0 signatures, and a
small generated plant catalog with its history (not the demo data)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

APP_ID = "00000000-aaaa-4bbb-8ccc-000000000001"
APP_PASSWORD = "test-app-password"
ISSUER = "https://api.botframework.com"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
KID = "pmark-test-key"


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Recorded:
    """One request the stub received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    reply_id: str = ""


@dataclass
class Stub:
    """Bot Connector, AAD token endpoint, OpenID metadata/JWKS and Slack Web API on loopback."""

    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    requests: list[Recorded] = field(default_factory=list)
    base: str = ""
    fail_connector: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    # Protocol pieces --------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": KID, "use": "sig", "endorsements": ["msteams", "emulator"]})
        return {"keys": [public]}

    def channel_token(
        self,
        service_url: str,
        *,
        key: rsa.RSAPrivateKey | None = None,
        audience: str = APP_ID,
        issuer: str = ISSUER,
        lifetime: int = 3600,
        kid: str = KID,
    ) -> str:
        """A Bot Framework channel token as the Teams service sends it."""
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})

    # Captured traffic -------------------------------------------------------------------

    def connector(self, kind: str | None = None) -> list[Recorded]:
        """Activities the bot sent to the connector (optionally of one activity type)."""
        out = [r for r in self.requests if r.path.startswith("/v3/conversations")]
        if kind is not None:
            out = [r for r in out if isinstance(r.body, dict) and r.body.get("type") == kind]
        return out

    def slack(self, method: str) -> list[Recorded]:
        """Slack Web API calls of one method."""
        return [r for r in self.requests if r.path == f"/api/{method}"]

    def token_requests(self) -> list[Recorded]:
        """Client-credential requests at the AAD token endpoint."""
        return [r for r in self.requests if r.path.endswith("/oauth2/v2.0/token")]

    async def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[Recorded]:
        """Poll until predicate() returns a non-empty list."""
        deadline = time.monotonic() + timeout
        while True:
            found = predicate()
            if found:
                return list(found)
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not send what was expected in time")
            await asyncio.sleep(0.05)

    # Server -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=20_000_000)
        app.router.add_get("/openid", self._openid)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_route("*", "/v3/conversations/{tail:.*}", self._connector)
        app.router.add_post("/api/{method}", self._slack)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        body: Any
        ctype = request.headers.get("Content-Type", "")
        if "json" in ctype:
            body = json.loads(raw or b"null")
        elif "form" in ctype:
            body = (
                dict((await request.post()).items())
                if not raw
                else dict(pair.split("=", 1) for pair in raw.decode().split("&") if "=" in pair)
            )
        else:
            body = raw.decode(errors="replace")
        rec = Recorded(request.method, request.path, dict(request.headers), body)
        self.requests.append(rec)
        return rec

    async def _openid(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.base}/jwks"})

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response(self.jwks())

    async def _token(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        form = rec.body if isinstance(rec.body, dict) else {}
        if form.get("client_secret") != APP_PASSWORD:
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3600, "access_token": "connector-token-1"}
        )

    async def _connector(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        if self.fail_connector:
            return web.json_response({"error": {"code": "ServiceError"}}, status=500)
        rec.reply_id = f"bot-msg-{next(self._ids)}"
        return web.json_response({"id": rec.reply_id})

    async def _slack(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        method = request.match_info["method"]
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "user_id": "UPMARKBOT",
                    "bot_id": "BPMARK",
                    "team_id": "T1",
                    "user": "pmark",
                }
            )
        body = rec.body if isinstance(rec.body, dict) else {}
        return web.json_response(
            {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}"}
        )


# Teams activities -------------------------------------------------------------------------


def teams_message(
    service_url: str,
    text: str,
    *,
    user: str = "29:user-a",
    aad: str = "aad-user-a",
    conversation: str = "19:general@thread.tacv2",
    chain: str | None = "1700000000001",
    activity_id: str | None = None,
    value: dict[str, Any] | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A Teams channel message activity (as the Teams service posts it)."""
    conv_id = f"{conversation};messageid={chain}" if chain else conversation
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id or str(int(time.time() * 1000)) + uuid.uuid4().hex[:6],
        "timestamp": datetime.utcnow().isoformat() + "Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": user, "name": "Tech A", "aadObjectId": aad},
        "conversation": {"id": conv_id, "conversationType": "channel", "isGroup": True},
        "recipient": {"id": f"28:{APP_ID}", "name": "PMark"},
        "text": f"<at>PMark</at> {text}",
        "textFormat": "plain",
        "entities": [
            {
                "type": "mention",
                "mentioned": {"id": f"28:{APP_ID}", "name": "PMark"},
                "text": "<at>PMark</at>",
            }
        ],
        "channelData": {"tenant": {"id": "tenant-1"}, "teamsChannelId": conversation},
        "locale": "ko-KR",
    }
    if value is not None:
        activity["value"] = value
        activity["text"] = ""
        activity["entities"] = []
    if reply_to:
        activity["replyToId"] = reply_to
    return activity


def teams_invoke(
    service_url: str,
    name: str,
    value: dict[str, Any],
    *,
    aad: str = "aad-user-a",
    conversation: str = "19:general@thread.tacv2;messageid=1700000000001",
    activity_id: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """An invoke activity (adaptiveCard/action, message/submitAction)."""
    activity: dict[str, Any] = {
        "type": "invoke",
        "name": name,
        "id": activity_id or uuid.uuid4().hex,
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": "29:" + aad, "aadObjectId": aad},
        "conversation": {"id": conversation},
        "recipient": {"id": f"28:{APP_ID}", "name": "PMark"},
        "value": value,
    }
    if reply_to:
        activity["replyToId"] = reply_to
    return activity


def conversation_update(service_url: str, conversation: str) -> dict[str, Any]:
    """The bot being added to a team channel."""
    return {
        "type": "conversationUpdate",
        "id": uuid.uuid4().hex,
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": "29:admin"},
        "conversation": {"id": conversation, "conversationType": "channel"},
        "recipient": {"id": f"28:{APP_ID}", "name": "PMark"},
        "membersAdded": [{"id": f"28:{APP_ID}"}],
        "channelData": {"eventType": "teamMemberAdded", "tenant": {"id": "tenant-1"}},
    }


# Slack ----------------------------------------------------------------------------------


def slack_headers(body: str, *, secret: str = SIGNING_SECRET, age: int = 0) -> dict[str, str]:
    """X-Slack-Signature v0 headers for a body."""
    ts = str(int(time.time()) - age)
    base = f"v0:{ts}:{body}".encode()
    sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def slack_event(event: dict[str, Any], event_id: str | None = None) -> str:
    """An Events API callback body."""
    return json.dumps(
        {
            "token": "x",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": "UPMARKBOT", "is_bot": True}],
            "event": event,
        }
    )


def slack_action_body(payload: dict[str, Any]) -> str:
    """An interactive payload, form encoded as Slack sends it."""
    return urlencode({"payload": json.dumps(payload)})


# Plant data -----------------------------------------------------------------------------

CATALOG = [
    ("location", "F1", "제1공장", "Factory 1", "1공장|1 공장|plant 1|factory one", ""),
    ("location", "F2", "제2공장", "Factory 2", "2공장|2 공장|plant 2|factory two", ""),
    ("location", "F2-W", "2공장 용수동", "Factory 2 Water House", "용수동|water house", "F2"),
    ("equipment", "PMP", "펌프", "Pump", "pump|펌프류|pmp", ""),
    ("equipment", "PMP-CW", "냉각수 펌프", "Cooling water pump", "냉각수펌프|cw pump", "PMP"),
    ("equipment", "CMP", "압축기", "Compressor", "컴프레서|compressor|compr", ""),
    ("equipment", "MTR", "전동기", "Electric motor", "모터|motor", ""),
    ("failure_mode", "LEAK", "누설", "Leak", "누유|누수|leaking|leak", ""),
    ("failure_mode", "VIB", "진동", "Vibration", "떨림|vibration|shaking", ""),
    ("failure_mode", "HOT", "과열", "Overheat", "과열됨|overheating|hot", ""),
    ("priority", "1", "긴급", "Emergency", "급함|urgent|asap|즉시", ""),
    ("priority", "2", "높음", "High", "high", ""),
    ("priority", "3", "보통", "Medium", "medium|normal", ""),
    ("priority", "4", "낮음", "Low", "low", ""),
    ("activity", "RPL", "교체", "Replace", "replace|교환", ""),
]

_FIXES = {
    "LEAK": ["메커니컬 씰 교체 후 누설 없음 확인", "Replaced gasket, no leak after test run"],
    "VIB": ["커플링 정렬 및 베어링 교체", "Realigned coupling, replaced bearing"],
    "HOT": ["냉각 팬 청소 및 윤활유 보충", "Cleaned cooling fan, topped up lube oil"],
}
_NAMES = {"PMP": "펌프", "PMP-CW": "냉각수 펌프", "CMP": "압축기", "MTR": "모터"}
_FAILS = {"LEAK": "누유", "VIB": "진동", "HOT": "과열"}


def write_plant(folder: Path, count: int = 48) -> tuple[Path, Path]:
    """A small catalog and `count` past notifications over it, as CSV files."""
    folder.mkdir(parents=True, exist_ok=True)
    catalog = folder / "catalog.csv"
    with catalog.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["category", "code", "name_ko", "name_en", "synonyms", "parent"])
        w.writerows(CATALOG)
    history = folder / "history.csv"
    start = datetime(2024, 3, 1, 8, 0)
    with history.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "itemno",
                "created_at",
                "location",
                "equipment",
                "failure_mode",
                "priority",
                "title",
                "details",
                "resolution",
            ]
        )
        combos = itertools.cycle(
            itertools.product(["F1", "F2", "F2-W"], list(_NAMES), list(_FAILS), ["1", "2", "3"])
        )
        for i in range(count):
            loc, eq, fm, prio = next(combos)
            plant = "2공장" if loc.startswith("F2") else "1공장"
            w.writerow(
                [
                    f"T{24000 + i:06d}",
                    (start + timedelta(hours=7 * i)).isoformat(),
                    loc,
                    eq,
                    fm,
                    prio,
                    f"{plant} {_NAMES[eq]} {_FAILS[fm]} 발생 #{i}",
                    f"순회 점검 중 {_NAMES[eq]} {_FAILS[fm]} 확인",
                    _FIXES[fm][i % 2],
                ]
            )
    return catalog, history


def walk(node: Any) -> list[dict[str, Any]]:
    """Every object of a card or Block Kit payload, depth first."""
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            out.extend(walk(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(walk(v))
    return out
