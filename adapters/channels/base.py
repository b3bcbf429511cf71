"""The channel contract: post a message into a conversation the bot already knows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class ChannelError(Exception):
    """A post could not be delivered (unknown conversation, refused credentials, API error)."""


@dataclass(frozen=True)
class Outbound:
    """One message: plain text plus the channel's rich rendering of it (either may be empty)."""

    text: str
    teams_attachments: list[dict[str, Any]] = field(default_factory=list)
    slack_blocks: list[dict[str, Any]] = field(default_factory=list)
    thread: str | None = None


class Channel(Protocol):
    """Somewhere PMark can post without being spoken to first."""

    name: str

    async def post(self, conversation_id: str, message: Outbound) -> str:
        """Deliver `message`; returns the id the channel gave the new message."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
