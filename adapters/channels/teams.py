"""Proactive posts to Teams through the Bot Connector REST API, from stored conversation refs.

One REST call, kept rather than botbuilder's continue_conversation: that needs a whole
BotFrameworkAdapter (credentials, its own HTTP client and token cache) where this takes the
stored reference, a token source and an httpx client, as the channel contract's tests do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from adapters.channels.base import ChannelError, Outbound
from adapters.channels.botframework import BotTokenSource
from adapters.tracing import traced_async

ReferenceLookup = Callable[[str], "dict[str, Any] | None"]


class TeamsChannel:
    """Posts an activity into a Teams conversation whose reference PMark stored on install."""

    name = "teams"

    def __init__(
        self,
        references: ReferenceLookup,
        tokens: BotTokenSource | None,
        scope: str,
        client: httpx.AsyncClient | None = None,
        close_tokens: bool = False,
    ) -> None:
        self._references = references
        self._close_tokens = close_tokens
        self._tokens = tokens
        self._scope = scope
        self._client = client or httpx.AsyncClient(timeout=15.0)
        self._own_client = client is None

    @traced_async("pmark.post teams", **{"pmark.channel": "teams"})
    async def post(self, conversation_id: str, message: Outbound) -> str:
        """Send the message (Adaptive Card attachments when given) to the conversation."""
        reference = self._references(conversation_id)
        if not reference:
            raise ChannelError(f"no conversation reference stored for {conversation_id!r}")
        service_url = str(reference.get("serviceUrl") or reference.get("service_url") or "")
        if not service_url:
            raise ChannelError(f"conversation reference for {conversation_id!r} has no serviceUrl")
        conversation = dict(reference.get("conversation") or {"id": conversation_id})
        target = str(conversation.get("id") or conversation_id)
        if message.thread:
            target = f"{target.split(';messageid=')[0]};messageid={message.thread}"
        activity: dict[str, Any] = {
            "type": "message",
            "text": message.text,
            "from": reference.get("bot") or {},
            "conversation": {**conversation, "id": target},
            "channelId": reference.get("channelId", "msteams"),
        }
        if message.teams_attachments:
            activity["attachments"] = message.teams_attachments
        headers = {}
        if self._tokens is not None:
            try:
                headers["Authorization"] = f"Bearer {await self._tokens.token(self._scope)}"
            except PermissionError as exc:
                raise ChannelError(f"no Bot Connector token: {exc}") from exc
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(target, safe='')}/activities"
        try:
            response = await self._client.post(url, json=activity, headers=headers)
        except httpx.HTTPError as exc:
            raise ChannelError(f"Teams connector unreachable: {exc!r}") from exc
        if response.status_code >= 300:
            raise ChannelError(f"Teams connector answered {response.status_code}")
        try:
            return str(response.json().get("id", ""))
        except ValueError:
            return ""

    async def aclose(self) -> None:
        """Close the HTTP client if this channel created it."""
        if self._own_client:
            await self._client.aclose()
        if self._close_tokens and self._tokens is not None:
            await self._tokens.aclose()
