"""The Channel contract, run against TeamsChannel and SlackChannel over real HTTP."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.channels import (
    BotTokenSource,
    Channel,
    ChannelError,
    Outbound,
    SlackChannel,
    TeamsChannel,
)
from tests.bot.support import APP_ID, APP_PASSWORD, BOT_TOKEN, Stub

CONV = "19:digest@thread.tacv2"


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _teams(base: str, stub: Stub, password: str = APP_PASSWORD) -> Channel:
    refs = {
        CONV: {
            "serviceUrl": base + "/",
            "conversation": {"id": CONV},
            "bot": {"id": "28:b"},
            "channelId": "msteams",
        }
    }
    tokens = BotTokenSource(APP_ID, password, f"{stub.base}/botframework.com")
    return TeamsChannel(refs.get, tokens, "https://api.botframework.com", close_tokens=True)


def _slack(base: str, stub: Stub, password: str = APP_PASSWORD) -> Channel:
    return SlackChannel(BOT_TOKEN, f"{base}/api/")


FACTORIES = {"teams": _teams, "slack": _slack}


@pytest.fixture(params=list(FACTORIES))
async def make(request: pytest.FixtureRequest, stub: Stub) -> AsyncIterator[Callable[..., Channel]]:
    made: list[Channel] = []

    def factory(base: str | None = None, **kw: Any) -> Channel:
        channel = FACTORIES[request.param](base or stub.base, stub, **kw)
        made.append(channel)
        return channel

    yield factory
    for channel in made:
        await channel.aclose()


async def test_post_delivers_text_and_rich_content(
    make: Callable[..., Channel], stub: Stub
) -> None:
    channel = make()
    before = len(stub.requests)
    message = Outbound(
        "PMark digest",
        teams_attachments=[
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": {}}
        ],
        slack_blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*digest*"}}],
    )
    message_id = await channel.post(CONV if channel.name == "teams" else "C0DIGEST", message)
    assert message_id
    sent = [r for r in stub.requests[before:] if not r.path.endswith("/token")]
    assert len(sent) == 1
    body = sent[0].body
    assert body["text"] == "PMark digest"
    if channel.name == "teams":
        assert body["attachments"][0]["contentType"].endswith("adaptive")
        assert sent[0].headers["Authorization"] == "Bearer connector-token-1"
    else:
        assert body["blocks"][0]["text"]["text"] == "*digest*"
        assert sent[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"


async def test_unreachable_service_is_a_channel_error(make: Callable[..., Channel]) -> None:
    channel = make(_dead_url())
    with pytest.raises(ChannelError):
        await channel.post(CONV if channel.name == "teams" else "C0DIGEST", Outbound("x"))


async def test_teams_unknown_conversation_and_refused_credentials(stub: Stub) -> None:
    channel = _teams(stub.base, stub)
    try:
        with pytest.raises(ChannelError, match="no conversation reference"):
            await channel.post("19:unknown@thread.tacv2", Outbound("x"))
    finally:
        await channel.aclose()
    refused = _teams(stub.base, stub, password="wrong")
    try:
        with pytest.raises(ChannelError, match="token"):
            await refused.post(CONV, Outbound("x"))
    finally:
        await refused.aclose()
