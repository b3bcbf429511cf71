"""Reading and writing Teams activities: ids, references, mentions, attachments, greetings."""

from __future__ import annotations

import json
from typing import Any

import orjson
from botbuilder.schema import Activity, ConversationReference

from adapters.channels.connector_json import write_model
from bot.mentions import teams_text
from bot.teams_auth import Unauthorized

MAX_TEXT = 4000


def dumps_json(value: Any) -> str:
    """JSON text of a value (the stdlib's where orjson refuses it)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # e.g. a lone surrogate, which the stdlib writes as an escape
        return json.dumps(value)


def refusal_reason(exc: Exception) -> str:
    """Why a token was refused, in a few words (never the token)."""
    if isinstance(exc, Unauthorized):
        return str(exc)
    return type(exc).__name__


def base_and_chain(conversation_id: str) -> tuple[str, str | None]:
    """A channel conversation id split into the channel and the reply chain (message id)."""
    base, _, chain = conversation_id.partition(";messageid=")
    return base, chain or None


def storable_reference(reference: ConversationReference) -> dict[str, Any]:
    """The reference as stored for proactive posts: the channel itself, no message id."""
    data = write_model(reference)
    data.pop("activityId", None)
    conversation = dict(data.get("conversation") or {})
    conversation["id"] = base_and_chain(str(conversation.get("id", "")))[0]
    data["conversation"] = conversation
    return data


def activity_user(activity: Activity) -> str:
    """Who sent an activity: their Entra object id, else their Teams id."""
    sender = activity.from_property
    if sender is None:
        return ""
    return str(getattr(sender, "aad_object_id", None) or sender.id or "")


def as_dict(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def text_without_mention(activity: Activity) -> str:
    """The message text without the @mention of the bot, cut to MAX_TEXT."""
    recipient = activity.recipient
    text = teams_text(
        activity.text or "",
        activity.entities or [],
        str(recipient.id or "") if recipient else "",
        str(recipient.name or "") if recipient else "",
    )
    return text[:MAX_TEXT]


def conversation_type_of(activity: Activity) -> str | None:
    """personal, groupChat or channel (None when the activity does not say)."""
    conversation = activity.conversation
    return conversation.conversation_type if conversation else None


def shows_typing(conversation_type: str | None) -> bool:
    """Teams shows typing in personal and group chats only; in a channel thread the playground
    drops the next message after one."""
    return conversation_type != "channel"


def welcome_text(conversation_type: str | None) -> str:
    """The greeting when PMark is added: in a team or group chat, how to address it."""
    if conversation_type in ("channel", "groupChat"):
        return (
            "안녕하세요, PMark입니다. 이 대화에서는 @PMark 를 멘션해서 설비 문제를 적어 주시면 "
            "접수 초안과 과거 조치 사례를 찾아 드려요. / Hi, I'm PMark: here I answer when "
            "you @mention me: write @PMark and what is wrong, and I'll draft the notification "
            "and find what fixed it before."
        )
    return (
        "안녕하세요, PMark입니다. 설비 문제를 적어 주시면 접수 초안과 과거 조치 사례를 "
        "찾아 드려요. / Hi, I'm PMark: tell me what is wrong and I'll draft the "
        "notification and find what fixed it before."
    )


def attachment_kwargs(attachment: dict[str, Any]) -> dict[str, Any]:
    """botbuilder Attachment arguments from a message attachment dict."""
    return {"content_type": attachment["contentType"], "content": attachment["content"]}
