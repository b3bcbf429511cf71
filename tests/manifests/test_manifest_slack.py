"""The Slack app manifest: least-privilege scopes and request URLs filled from the public URL."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from adapters.settings import Settings
from bot.packaging import PackagingError, render_slack_manifest

# What PMark does in Slack and the scope each needs; anything beyond this is over-privileged.
NEEDED_SCOPES = {"app_mentions:read", "chat:write", "commands", "im:history"}


def render(base_url: str) -> dict[str, Any]:
    text = render_slack_manifest(Settings(_env_file=None), base_url)
    manifest: dict[str, Any] = yaml.safe_load(text)
    return manifest


def urls(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [u for value in node.values() for u in urls(value)]
    if isinstance(node, list):
        return [u for value in node for u in urls(value)]
    return [node] if isinstance(node, str) and node.startswith(("http://", "https://")) else []


def test_request_urls_point_at_the_given_host() -> None:
    m = render("https://bot.contoso.com/")
    settings = m["settings"]
    assert settings["event_subscriptions"]["request_url"] == "https://bot.contoso.com/slack/events"
    assert settings["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://bot.contoso.com/slack/actions",
    }
    (command,) = m["features"]["slash_commands"]
    assert command["command"] == "/pmark"
    assert command["url"] == "https://bot.contoso.com/slack/commands"
    found = urls(m)
    assert len(found) == 3 and all(u.startswith("https://bot.contoso.com/slack/") for u in found)


def test_base_url_with_a_path_prefix_is_kept() -> None:
    m = render("https://gw.contoso.com/pmark")
    assert m["settings"]["event_subscriptions"]["request_url"] == (
        "https://gw.contoso.com/pmark/slack/events"
    )


def test_scopes_are_least_privilege_and_match_the_events() -> None:
    m = render("https://bot.contoso.com")
    assert set(m["oauth_config"]["scopes"]["bot"]) == NEEDED_SCOPES
    assert "user" not in m["oauth_config"]["scopes"]
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_mention", "message.im"}
    assert m["settings"]["socket_mode_enabled"] is False


def test_slack_field_limits() -> None:
    m = render("https://bot.contoso.com")
    info = m["display_information"]
    assert len(info["name"]) <= 35 and len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert len(m["features"]["bot_user"]["display_name"]) <= 80


@pytest.mark.parametrize("bad", ["http://bot.contoso.com", "bot.contoso.com", "https://"])
def test_refuses_a_url_slack_would_reject(bad: str) -> None:
    with pytest.raises(PackagingError):
        render(bad)
