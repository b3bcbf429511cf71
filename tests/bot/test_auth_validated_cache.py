"""A channel token botbuilder validated is trusted again for the same service URL and channel
until it expires (bot/teams_auth.py), and nothing else is."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult, ClaimsIdentity

from bot.auth_keys import KeyRing
from bot.teams_auth import GuardedAuthentication
from tests.bot.support import APP_ID, Stub

SERVICE = "https://smba.trafficmanager.net/kr/"


class Inner:
    """botbuilder's authentication: counts validations, refuses once told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.refuse = False

    async def authenticate_request(self, activity: Activity, header: str) -> Any:
        self.calls += 1
        if self.refuse:
            raise PermissionError("Unauthorized")
        claims = jwt.decode(header.split()[1], options={"verify_signature": False})
        result = AuthenticateRequestResult()
        result.claims_identity = ClaimsIdentity(claims, True)
        result.audience = "https://api.botframework.com"
        return result


def auth(inner: Inner) -> GuardedAuthentication:
    return GuardedAuthentication(inner, APP_ID, None, ring=KeyRing())  # type: ignore[arg-type]


def activity(service_url: str = SERVICE, channel: str = "msteams") -> Activity:
    return Activity(type="message", service_url=service_url, channel_id=channel)


async def test_a_validated_token_is_not_checked_again() -> None:
    inner, stub = Inner(), Stub()
    guard = auth(inner)
    header = "Bearer " + stub.channel_token(SERVICE)
    first = await guard.authenticate_request(activity(), header)
    second = await guard.authenticate_request(activity(), header)
    assert inner.calls == 1
    assert second is not first and second.claims_identity is first.claims_identity


@pytest.mark.parametrize(
    "other",
    [activity("https://attacker.example/"), activity(channel="slack")],
    ids=["url", "channel"],
)
async def test_another_service_url_or_channel_is_checked(other: Activity) -> None:
    inner, stub = Inner(), Stub()
    guard = auth(inner)
    header = "Bearer " + stub.channel_token(SERVICE)
    await guard.authenticate_request(activity(), header)
    inner.refuse = True
    with pytest.raises(PermissionError):
        await guard.authenticate_request(other, header)
    assert inner.calls == 2


async def test_a_refused_token_is_refused_every_time() -> None:
    inner, stub = Inner(), Stub()
    inner.refuse = True
    guard = auth(inner)
    header = "Bearer " + stub.channel_token(SERVICE)
    for _ in range(2):
        with pytest.raises(PermissionError):
            await guard.authenticate_request(activity(), header)
    assert inner.calls == 2


async def test_an_expired_token_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    inner, stub = Inner(), Stub()
    guard = auth(inner)
    header = "Bearer " + stub.channel_token(SERVICE, lifetime=120)
    await guard.authenticate_request(activity(), header)
    later = time.time() + 121
    monkeypatch.setattr("bot.teams_auth.time.time", lambda: later)
    inner.refuse = True  # botbuilder refuses it now; the precheck allows the 300 s clock skew
    with pytest.raises(PermissionError):
        await guard.authenticate_request(activity(), header)
