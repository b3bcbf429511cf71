"""Signing keys through an outage, and the token checks that need no key (no server needed)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
import pytest

from bot.auth_keys import KeysUnavailable, SigningKeys
from bot.teams_auth import Unauthorized, precheck
from tests.bot.support import APP_ID, APP_PASSWORD, ISSUER, KID, Stub

METADATA = "http://keys.test/openid"


class Endpoint:
    """An OpenID endpoint (httpx.MockTransport) that can serve, fail or hang; counts fetches."""

    def __init__(self, stub: Stub) -> None:
        self.stub = stub
        self.mode = "ok"
        self.calls = 0
        self.release = asyncio.Event()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.mode == "fail":
            raise httpx.ConnectError("refused", request=request)
        if self.mode == "hang":
            await self.release.wait()
            raise httpx.ReadTimeout("hung", request=request)
        if request.url.path == "/openid":
            return httpx.Response(200, json={"jwks_uri": "http://keys.test/jwks"})
        return httpx.Response(200, json=self.stub.jwks())

    def keys(self, **kw: Any) -> SigningKeys:
        return SigningKeys(METADATA, transport=httpx.MockTransport(self.handle), **kw)


@pytest.fixture
def endpoint() -> Endpoint:
    return Endpoint(Stub())


async def test_cached_keys_keep_validating_while_a_refresh_fails(endpoint: Endpoint) -> None:
    keys = endpoint.keys()
    assert await keys.key(KID) is not None
    endpoint.mode = "fail"
    await keys.refresh()
    assert keys.failed_at is not None and keys.usable
    assert await keys.key(KID) is not None


async def test_one_fetch_for_many_waiters_and_the_failure_is_remembered(
    endpoint: Endpoint,
) -> None:
    endpoint.mode = "hang"
    keys = endpoint.keys(wait=0.2, retry_after=60)
    results = await asyncio.gather(*(keys.key(KID) for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, KeysUnavailable) for r in results)
    assert endpoint.calls == 1  # one fetch in flight, shared
    endpoint.release.set()
    await asyncio.sleep(0)
    with pytest.raises(KeysUnavailable):
        await keys.key(KID)
    await asyncio.sleep(0.05)
    calls = endpoint.calls
    with pytest.raises(KeysUnavailable):
        await keys.key(KID)  # refused at once: the failure is remembered
    assert endpoint.calls == calls
    assert keys.unavailable
    await keys.aclose()


async def test_forged_key_ids_do_not_refetch(endpoint: Endpoint) -> None:
    keys = endpoint.keys()
    assert await keys.key(KID) is not None
    calls = endpoint.calls
    for i in range(20):
        assert await keys.key(f"forged-{i}") is None
    assert endpoint.calls == calls


def _token(**over: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": APP_ID, "exp": now + 600, "nbf": now - 60}
    alg = over.pop("alg", "RS256")
    headers = over.pop("headers", {"kid": KID})
    claims.update(over)
    key: Any = Stub().key if alg == "RS256" else None
    if alg == "HS256":
        key = APP_PASSWORD + "-padded-to-32-bytes-for-hmac"
    return "Bearer " + jwt.encode(claims, key, algorithm=alg, headers=headers)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer a.b.c",
        "Bearer " + "x" * 20_000,
        _token(alg="none"),
        _token(alg="HS256"),
        _token(headers={}),
        _token(exp=int(time.time()) - 3600),
        _token(exp="tomorrow"),
        _token(nbf=int(time.time()) + 3600),
        _token(aud="00000000-0000-0000-0000-00000000beef"),
    ],
    ids=[
        "none",
        "empty",
        "basic",
        "bearer-only",
        "not-base64",
        "huge",
        "alg-none",
        "hs256",
        "no-kid",
        "expired",
        "exp-not-a-number",
        "not-yet-valid",
        "other-audience",
    ],
)
def test_tokens_no_key_can_validate_are_refused_without_keys(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        precheck(header, APP_ID)


def test_a_well_formed_token_passes_to_the_key_check() -> None:
    precheck(_token(), APP_ID)
    precheck(None, "")  # emulator mode: botbuilder decides
