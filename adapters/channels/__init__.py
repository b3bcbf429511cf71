"""Proactive posting to Teams and Slack (used by the evaluation digest and delayed answers)."""

from adapters.channels.base import Channel, ChannelError, Outbound
from adapters.channels.botframework import BotFrameworkEndpoints, BotTokenSource
from adapters.channels.slack import SlackChannel
from adapters.channels.teams import TeamsChannel

__all__ = [
    "BotFrameworkEndpoints",
    "BotTokenSource",
    "Channel",
    "ChannelError",
    "Outbound",
    "SlackChannel",
    "TeamsChannel",
]
