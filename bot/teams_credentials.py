"""Teams' botbuilder configuration and outbound credentials, without MSAL on the event loop."""

from __future__ import annotations

from botbuilder.integration.aiohttp import ConfigurationServiceClientCredentialFactory
from botframework.connector.auth import (
    AppCredentials,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from msrest.authentication import Authentication

from adapters.channels.botframework import BotFrameworkEndpoints, BotTokenSource
from adapters.settings import Settings


class BotConfig:
    """The attribute-style configuration botbuilder's Configuration* classes read."""

    def __init__(self, settings: Settings, endpoints: BotFrameworkEndpoints) -> None:
        self.APP_ID = settings.microsoft_app_id or ""
        self.APP_PASSWORD = (
            settings.microsoft_app_password.get_secret_value()
            if settings.microsoft_app_password
            else ""
        )
        self.APP_TYPE = settings.microsoft_app_type
        self.APP_TENANTID = settings.microsoft_app_tenant_id or ""
        if endpoints.customized():
            # Any of these switches botbuilder to its parameterized (private cloud) mode;
            # then every value must be given, the public ones by default.
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = endpoints.metadata_url()
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = endpoints.issuer()
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = endpoints.login(self.APP_TENANTID or None)
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = endpoints.scope()
            self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = endpoints.metadata_url()
            self.VALIDATE_AUTHORITY = False


class _TokenCredentials(AppCredentials):  # type: ignore[misc]
    """Credentials holding a token fetched asynchronously just before the connector call."""

    def __init__(self, app_id: str, token: str, scope: str) -> None:
        super().__init__(app_id=app_id, oauth_scope=scope)
        self._token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._token


class TokenCredentialFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Outbound credentials from BotTokenSource: no blocking MSAL call on the event loop.

    botbuilder builds new MSAL credentials for every connector client, and MSAL fetches a token
    synchronously (requests) inside the request pipeline; this factory fetches and caches tokens
    with httpx instead. Managed identities keep botbuilder's own factory.
    """

    def __init__(self, settings: Settings, endpoints: BotFrameworkEndpoints) -> None:
        self.app_id = settings.microsoft_app_id or ""
        self._msi: ServiceClientCredentialsFactory | None = None
        self.tokens: BotTokenSource | None = None
        app_type = settings.microsoft_app_type.lower()
        if app_type == "userassignedmsi":
            self._msi = ConfigurationServiceClientCredentialFactory(BotConfig(settings, endpoints))
        elif self.app_id and settings.microsoft_app_password:
            tenant = settings.microsoft_app_tenant_id if app_type == "singletenant" else None
            self.tokens = BotTokenSource(
                self.app_id,
                settings.microsoft_app_password.get_secret_value(),
                endpoints.login(tenant),
            )

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(app_id) and app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Authentication:
        if self._msi is not None:
            credentials: Authentication = await self._msi.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
            return credentials
        if not self.app_id:
            empty: Authentication = MicrosoftAppCredentials.empty()
            return empty
        if app_id != self.app_id:
            raise PermissionError("Invalid app_id")
        if self.tokens is None:
            raise PermissionError("no app password configured for outbound calls")
        scope = oauth_scope or "https://api.botframework.com"
        return _TokenCredentials(app_id, await self.tokens.token(scope), scope)

    async def aclose(self) -> None:
        if self.tokens is not None:
            await self.tokens.aclose()
