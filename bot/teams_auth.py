"""Bot Framework token checks that answer in time, whatever Microsoft's key endpoints do.

Before anything needs a signing key, a token is refused (401) when no key could make it valid:
no bearer token, not a JWT, an algorithm other than RS256 (`none`, HS256…), no key id, expired
or not yet valid, or for another audience. What is left is validated by botbuilder as before,
except that botbuilder's key cache (blocking `requests.get` without a timeout, once per
request while the endpoint fails) is replaced by `bot.auth_keys`: keys fetched in the
background with timeouts, one fetch at a time, cached keys kept while refreshes fail.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from cachetools import TTLCache
from jwt.algorithms import RSAAlgorithm

from adapters.channels.connector_http import ConnectorPool, PooledConnectorFactory
from bot.auth_keys import KeyRing, KeysUnavailable, SigningKeys

log = logging.getLogger(__name__)

ALGORITHMS = frozenset({"RS256"})  # botbuilder lists RS384/RS512 but verifies RS256 only
CLOCK_SKEW = 300  # botbuilder's clock tolerance
MAX_TOKEN = 16_384
VALIDATED_TTL = 300.0
VALIDATED_SIZE = 1024


class Unauthorized(Exception):
    """A token no key can make valid (the request gets a 401)."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def precheck(header: str | None, app_id: str, now: float | None = None) -> None:
    """Raise Unauthorized for a token that cannot be valid, without any key."""
    if not app_id:
        return  # emulator mode: botbuilder lets unauthenticated requests in
    if not header:
        raise Unauthorized("no Authorization header")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise Unauthorized("not a bearer JWT")
    try:
        head = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise Unauthorized("malformed token") from None
    if head.get("alg") not in ALGORITHMS:
        raise Unauthorized("signing algorithm not allowed")
    if not isinstance(head.get("kid"), str) or not head["kid"]:
        raise Unauthorized("token without a key id")
    now = time.time() if now is None else now
    exp = _number(claims.get("exp"))
    if exp is None or exp + CLOCK_SKEW < now:
        raise Unauthorized("expired token")
    nbf = _number(claims.get("nbf"))
    if nbf is not None and nbf - CLOCK_SKEW > now:
        raise Unauthorized("token not valid yet")
    audience = claims.get("aud")
    if audience != app_id and not (isinstance(audience, list) and app_id in audience):
        raise Unauthorized("token for another audience")


class _Key:
    """What botbuilder reads of a key: the public key and its endorsements."""

    def __init__(self, jwk: dict[str, Any]) -> None:
        self.public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
        endorsements = jwk.get("endorsements")
        self.endorsements = endorsements if isinstance(endorsements, list) else []


class _BotbuilderKeys:
    """Stands in for botbuilder's `_OpenIdMetadata`: keys from SigningKeys, no blocking I/O."""

    def __init__(self, store: SigningKeys) -> None:
        self.store = store
        self._parsed: dict[str, _Key] = {}

    async def get(self, key_id: str) -> _Key:
        jwk = await self.store.key(str(key_id or ""))
        if jwk is None:
            raise PermissionError("token signed with an unknown key")
        kid = str(jwk["kid"])
        parsed = self._parsed.get(kid)
        if parsed is None or self.store.find(kid) is not jwk:
            parsed = self._parsed[kid] = _Key(jwk)
        return parsed


class _MetadataCache(dict[str, Any]):
    """botbuilder's metadata cache (`JwtTokenExtractor.metadataCache`), served from a KeyRing."""

    def __init__(self, ring: KeyRing) -> None:
        super().__init__()
        self.ring = ring

    def get(self, url: str, default: Any = None) -> Any:
        found = super().get(url)
        if found is None:
            found = self[url] = _BotbuilderKeys(self.ring.keys_for(url))
        return found


RING = KeyRing()


def install_key_cache(ring: KeyRing = RING) -> KeyRing:
    """Make botbuilder take its signing keys from the ring (process-wide, idempotent)."""
    current = JwtTokenExtractor.metadataCache
    if not (isinstance(current, _MetadataCache) and current.ring is ring):
        JwtTokenExtractor.metadataCache = _MetadataCache(ring)
    return ring


class GuardedAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """botbuilder's authentication behind the key-free checks, with keys from the ring."""

    def __init__(
        self,
        inner: BotFrameworkAuthentication,
        app_id: str,
        metadata_url: str | None,
        ring: KeyRing = RING,
        connectors: ConnectorPool | None = None,
    ) -> None:
        self._inner = inner
        self._connectors = connectors
        self.app_id = app_id
        self.ring = install_key_cache(ring)
        self._metadata_url = metadata_url
        # The Bot Connector sends one token for about an hour, and botbuilder decodes and checks
        # it six times per request (1.7 ms of CPU per turn, profiled). A token that passed is
        # trusted again for the same service URL and channel until it expires, and for at most
        # VALIDATED_TTL (a revoked signing key stops being honoured within that).
        self._validated: TTLCache[tuple[str, str, str], tuple[AuthenticateRequestResult, float]] = (
            TTLCache(VALIDATED_SIZE, VALIDATED_TTL)
        )

    @property
    def keys(self) -> SigningKeys | None:
        """The channel's key store (None in emulator mode)."""
        return self.ring.keys_for(self._metadata_url) if self._metadata_url else None

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        precheck(auth_header, self.app_id)
        key = (auth_header, activity.service_url or "", activity.channel_id or "")
        known = self._validated.get(key)
        if known is not None and time.time() < known[1]:
            return _copy(known[0])
        result = await self._inner.authenticate_request(activity, auth_header)
        if self._connectors is not None and result.connector_factory is not None:
            result.connector_factory = PooledConnectorFactory(
                result.connector_factory, self._connectors
            )
        expires = (
            _number((result.claims_identity.claims or {}).get("exp"))
            if result.claims_identity
            else None
        )
        if self.app_id and expires is not None:
            self._validated[key] = (result, expires)
        return _copy(result)

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        precheck(auth_header, self.app_id)
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        precheck(auth_header, self.app_id)
        return await self._inner.authenticate_channel_request(auth_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        factory = self._inner.create_connector_factory(claims_identity)
        if self._connectors is None:
            return factory
        return PooledConnectorFactory(factory, self._connectors)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # botbuilder makes one for every activity (an msrest client: ~1 ms of GIL), for sign-in
        # flows PMark has none of: made when first used instead.
        return LazyUserTokenClient(lambda: self._inner.create_user_token_client(claims_identity))

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def prewarm(self) -> None:
        """Start fetching the channel's signing keys before the first request needs them.

        Not awaited: the fetch belongs to the key ring, which shutdown cancels.
        """
        keys = self.keys
        if keys is not None:
            keys.refresh()

    async def ready(self) -> bool:
        """False until the signing keys are in (a fetch starts if none is due to fail)."""
        keys = self.keys
        if keys is None or keys.usable:
            return True
        if not keys.failing():
            keys.refresh()  # in the background; a probe only asks
        return False

    async def aclose(self) -> None:
        """Stop fetches in flight."""
        await self.ring.aclose()


__all__ = ["GuardedAuthentication", "KeysUnavailable", "Unauthorized", "precheck"]


def _copy(result: AuthenticateRequestResult) -> AuthenticateRequestResult:
    """A result of its own for each request (botbuilder's adapter may set its fields)."""
    out = AuthenticateRequestResult()
    out.claims_identity = result.claims_identity
    out.audience = result.audience
    out.caller_id = result.caller_id
    out.connector_factory = result.connector_factory
    return out


class LazyUserTokenClient(UserTokenClient):  # type: ignore[misc]
    """botbuilder's user-token client, built on the first call (most turns never make one)."""

    def __init__(self, make: Callable[[], Awaitable[UserTokenClient]]) -> None:
        self._make = make
        self._client: UserTokenClient | None = None

    async def _real(self) -> UserTokenClient:
        if self._client is None:
            self._client = await self._make()
        return self._client

    async def get_user_token(self, *args: Any) -> Any:
        return await (await self._real()).get_user_token(*args)

    async def get_sign_in_resource(self, *args: Any) -> Any:
        return await (await self._real()).get_sign_in_resource(*args)

    async def sign_out_user(self, *args: Any) -> Any:
        return await (await self._real()).sign_out_user(*args)

    async def get_token_status(self, *args: Any) -> Any:
        return await (await self._real()).get_token_status(*args)

    async def get_aad_tokens(self, *args: Any) -> Any:
        return await (await self._real()).get_aad_tokens(*args)

    async def exchange_token(self, *args: Any) -> Any:
        return await (await self._real()).exchange_token(*args)
