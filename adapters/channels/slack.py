"""Proactive posts to Slack with chat.postMessage.

One httpx call, kept rather than slack_sdk's AsyncWebClient: callers (and their tests) hand in
an httpx client (a transport of their own), which AsyncWebClient, on aiohttp, cannot take.
"""

from __future__ import annotations

from typing import Any

import httpx

from adapters.channels.base import ChannelError, Outbound
from adapters.tracing import traced_async


class SlackChannel:
    """Posts into a Slack channel (or thread) with the bot token."""

    name = "slack"

    def __init__(
        self,
        token: str,
        api_url: str = "https://slack.com/api/",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._token = token
        self._api_url = api_url.rstrip("/") + "/"
        self._client = client or httpx.AsyncClient(timeout=15.0)
        self._own_client = client is None

    @traced_async("pmark.post slack", **{"pmark.channel": "slack"})
    async def post(self, conversation_id: str, message: Outbound) -> str:
        """chat.postMessage; returns the message ts."""
        payload: dict[str, Any] = {"channel": conversation_id, "text": message.text}
        if message.slack_blocks:
            payload["blocks"] = message.slack_blocks
        if message.thread:
            payload["thread_ts"] = message.thread
        try:
            response = await self._client.post(
                self._api_url + "chat.postMessage",
                json=payload,
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except httpx.HTTPError as exc:
            raise ChannelError(f"Slack unreachable: {exc!r}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 300 or not body.get("ok"):
            raise ChannelError(
                f"Slack chat.postMessage failed: {body.get('error') or response.status_code}"
            )
        return str(body.get("ts", ""))

    async def aclose(self) -> None:
        """Close the HTTP client if this channel created it."""
        if self._own_client:
            await self._client.aclose()
