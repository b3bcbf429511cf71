"""The configured channels, built from settings and the stored conversation references."""

from __future__ import annotations

from typing import Any

from adapters.channels.base import Channel
from adapters.channels.botframework import BotFrameworkEndpoints, BotTokenSource
from adapters.channels.slack import SlackChannel
from adapters.channels.teams import TeamsChannel
from adapters.settings import Settings
from adapters.sql.repository import Repository


def teams_reference_lookup(repo: Repository) -> Any:
    """A lookup of stored Teams conversation references by conversation id."""

    def lookup(conversation_id: str) -> dict[str, Any] | None:
        base = conversation_id.split(";messageid=")[0]
        for row in repo.conversation_refs("teams"):
            if row["conversation_id"] in (conversation_id, base):
                return dict(row["reference"])
        return None

    return lookup


def make_channels(
    settings: Settings, repo: Repository, endpoints: BotFrameworkEndpoints | None = None
) -> dict[str, Channel]:
    """Teams always (emulator mode posts without a token); Slack when a bot token is set."""
    endpoints = endpoints or BotFrameworkEndpoints()
    tokens = None
    if settings.microsoft_app_id and settings.microsoft_app_password:
        tenant = (
            settings.microsoft_app_tenant_id
            if settings.microsoft_app_type.lower() == "singletenant"
            else None
        )
        tokens = BotTokenSource(
            settings.microsoft_app_id,
            settings.microsoft_app_password.get_secret_value(),
            endpoints.login(tenant),
        )
    channels: dict[str, Channel] = {
        "teams": TeamsChannel(
            teams_reference_lookup(repo), tokens, endpoints.scope(), close_tokens=True
        )
    }
    if settings.slack_bot_token:
        channels["slack"] = SlackChannel(
            settings.slack_bot_token.get_secret_value(), settings.slack_api_url
        )
    return channels
