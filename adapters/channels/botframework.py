"""Bot Framework endpoints and the bot's outbound token (OAuth2 client credentials, async)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PUBLIC_LOGIN_PREFIX = "https://login.microsoftonline.com/"
PUBLIC_LOGIN_URL = PUBLIC_LOGIN_PREFIX + "botframework.com"
PUBLIC_SCOPE = "https://api.botframework.com"
PUBLIC_ISSUER = "https://api.botframework.com"
PUBLIC_OPENID_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"


class BotFrameworkEndpoints(BaseSettings):
    """Overrides of the public-cloud Bot Framework endpoints (sovereign clouds, local tests).

    Unset means the public cloud. Read from PMARK_BOTFRAMEWORK_* variables.
    """

    model_config = SettingsConfigDict(env_prefix="PMARK_BOTFRAMEWORK_", extra="ignore")

    openid_metadata_url: str | None = Field(
        None, description="OpenID metadata that lists the keys channel tokens are signed with."
    )
    token_issuer: str | None = Field(None, description="Issuer of channel tokens.")
    login_url: str | None = Field(
        None, description="Authority the bot gets its outbound token from (…/oauth2/v2.0/token)."
    )
    oauth_scope: str | None = Field(None, description="Scope of the bot's outbound token.")

    def customized(self) -> bool:
        """Whether any endpoint differs from the public cloud."""
        return any((self.openid_metadata_url, self.token_issuer, self.login_url, self.oauth_scope))

    def metadata_url(self) -> str:
        """The OpenID metadata URL in effect."""
        return self.openid_metadata_url or PUBLIC_OPENID_METADATA

    def login(self, tenant_id: str | None = None) -> str:
        """The authority in effect (a single-tenant bot logs in at its own tenant)."""
        if self.login_url:
            return self.login_url.rstrip("/")
        return PUBLIC_LOGIN_PREFIX + tenant_id if tenant_id else PUBLIC_LOGIN_URL

    def scope(self) -> str:
        """The outbound token scope in effect."""
        return self.oauth_scope or PUBLIC_SCOPE

    def issuer(self) -> str:
        """The channel token issuer in effect."""
        return self.token_issuer or PUBLIC_ISSUER


@dataclass
class _Token:
    value: str
    expires: float


class BotTokenSource:
    """Client-credentials tokens for the Bot Connector, cached until five minutes before expiry.

    The same request MSAL makes for a confidential client, done with httpx so it never blocks
    the event loop and needs no instance discovery (which would call login.microsoftonline.com
    even for a private authority).
    """

    def __init__(
        self,
        app_id: str,
        password: str,
        login_url: str,
        client: httpx.AsyncClient | None = None,
        margin: float = 300.0,
    ) -> None:
        self.app_id = app_id
        self._password = password
        self.token_url = login_url.rstrip("/") + "/oauth2/v2.0/token"
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._own_client = client is None
        self._margin = margin
        self._tokens: dict[str, _Token] = {}
        self._lock = asyncio.Lock()

    def cached(self, scope: str) -> str | None:
        """A still-valid token without any I/O, or None."""
        token = self._tokens.get(scope)
        if token is not None and token.expires - self._margin > time.monotonic():
            return token.value
        return None

    async def token(self, scope: str) -> str:
        """A valid token for `scope`, fetched when the cached one is close to expiry."""
        value = self.cached(scope)
        if value is not None:
            return value
        async with self._lock:
            value = self.cached(scope)
            if value is not None:
                return value
            try:
                response = await self._client.post(
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.app_id,
                        "client_secret": self._password,
                        "scope": scope.rstrip("/") + "/.default",
                    },
                )
            except httpx.HTTPError as exc:
                raise PermissionError(f"token endpoint unreachable: {exc!r}") from exc
            if response.status_code != 200:
                raise PermissionError(
                    f"token endpoint refused the bot credentials ({response.status_code})"
                )
            body = response.json()
            access = body.get("access_token")
            if not isinstance(access, str) or not access:
                raise PermissionError("token endpoint answered without an access_token")
            lifetime = float(body.get("expires_in", 3600))
            self._tokens[scope] = _Token(access, time.monotonic() + lifetime)
            return access

    async def aclose(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._own_client:
            await self._client.aclose()
