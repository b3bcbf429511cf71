"""Slack: a slack-bolt AsyncApp behind aiohttp (events, interactive actions, /pmark), Block Kit."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.settings import Settings
from adapters.sql.repository import Repository
from agent.runner import Agent, thread_id_for
from bot.cards import failure_response, plain_text, slack_blocks
from bot.feedback import FeedbackService, VoteResult
from bot.jobs import Background
from bot.middleware import HANDLER_ERRORS, RATE_LIMITED, RateLimiter, guess_lang, rate_limited_text

log = logging.getLogger(__name__)
CHANNEL = "slack"
TURN_TIMEOUT = 120.0
MAX_TEXT = 4000
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def _text(raw: object) -> str:
    return _MENTION.sub("", str(raw or "")).strip()[:MAX_TEXT]


class SlackBot:
    """Bolt listeners that acknowledge at once and answer from a background task."""

    def __init__(
        self,
        settings: Settings,
        agent: Agent,
        repo: Repository,
        feedback: FeedbackService,
        limiter: RateLimiter,
        background: Background,
    ) -> None:
        assert settings.slack_bot_token and settings.slack_signing_secret
        self.agent = agent
        self.repo = repo
        self.feedback = feedback
        self.limiter = limiter
        self.background = background
        self.client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
        )
        self._verifier = SignatureVerifier(settings.slack_signing_secret.get_secret_value())
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            # Bolt acks first and runs the rest of a listener afterwards; our listeners hand
            # the slow part to Background themselves so shutdown can account for it.
            process_before_response=False,
        )
        self._register()

    async def handle(self, request: web.Request) -> web.Response:
        """Translate aiohttp <-> Bolt (Bolt verifies the signature and its 5-minute window)."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not timestamp.isdigit():
            return web.json_response({"error": "invalid request timestamp"}, status=401)
        raw = await request.read()
        try:
            signed = self._verifier.is_valid_request(
                raw, {k.lower(): v for k, v in request.headers.items()}
            )
        except UnicodeDecodeError:
            return web.json_response({"error": "body is not UTF-8"}, status=400)
        if signed and not _well_formed(raw, request.headers.get("Content-Type", "")):
            # Signed, so it is Slack (or a leaked secret), but Bolt cannot read it.
            return web.json_response({"error": "malformed body"}, status=400)
        bolt_request = await to_bolt_request(request)
        bolt_response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    def _register(self) -> None:
        app = self.app
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.action(re.compile(r"^pmark_vote_(up|down)$"))(self._on_vote)
        app.action("pmark_file")(self._on_file)
        app.action(re.compile(r"^pmark_choice_"))(self._on_choice)
        app.command("/pmark")(self._on_command)
        # Everything else is acknowledged so Slack does not retry it.
        app.event(re.compile(".*"))(self._ignore)
        app.action(re.compile(".*"))(self._ignore)

    async def _ignore(self, ack: AsyncAck) -> None:
        await ack()

    # Messages ----------------------------------------------------------------------------

    async def _on_mention(self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        await self._incoming(body, event)

    async def _on_message(self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        # Direct messages only: in channels PMark answers when mentioned (app_mention).
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        await self._incoming(body, event)

    async def _incoming(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        event_id = str(body.get("event_id") or "")
        if event_id and not await asyncio.to_thread(self.repo.claim_event, f"slack:{event_id}"):
            log.info("redelivered Slack event %s ignored", event_id)
            return
        channel = str(event.get("channel") or "")
        user = str(event.get("user") or "")
        if not channel or not user:
            return
        thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
        await asyncio.to_thread(
            self.repo.save_conversation_ref,
            CHANNEL,
            channel,
            {"channel": channel, "team": body.get("team_id"), "api_app_id": body.get("api_app_id")},
        )
        self._start_turn(channel, thread_ts, user, _text(event.get("text")))

    def _start_turn(self, channel: str, thread_ts: str, user: str, text: str) -> None:
        if not self.limiter.allow(f"{CHANNEL}:{user}"):
            RATE_LIMITED.labels(CHANNEL).inc()
            self.background.spawn(
                self._post(
                    channel,
                    thread_ts,
                    rate_limited_text(guess_lang(text), self.limiter.per_minute),
                    None,
                ),
                name="slack-rate-limited",
            )
            return
        thread = thread_id_for(CHANNEL, channel, thread_ts or None)
        turn_id = uuid.uuid4().hex
        self.background.spawn(
            self._answer(channel, thread_ts, thread, user, text, turn_id),
            name=f"slack-turn-{turn_id}",
        )

    async def _answer(
        self, channel: str, thread_ts: str, thread: str, user: str, text: str, turn_id: str
    ) -> None:
        try:
            async with self.background.turn_slot():
                response = await asyncio.wait_for(
                    self.agent.turn(thread, text, user_id=user, turn_id=turn_id), TURN_TIMEOUT
                )
        except Exception:
            HANDLER_ERRORS.labels(CHANNEL).inc()
            log.exception("Slack turn %s failed", turn_id, extra={"turn_id": turn_id})
            response = failure_response(turn_id, text, thread)
        response.setdefault("thread", thread)
        self.feedback.remember(response)
        await self._post(channel, thread_ts, plain_text(response), slack_blocks(response))

    async def _post(
        self, channel: str, thread_ts: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> None:
        try:
            await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts or None, text=text, blocks=blocks
            )
        except Exception:
            HANDLER_ERRORS.labels(CHANNEL).inc()
            log.exception("could not post to Slack channel %s", channel)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        text = _text(command.get("text"))
        await ack(text="⏳ …" if text else "사용법: /pmark 2공장 냉각수 펌프 누유, 긴급")
        channel = str(command.get("channel_id") or "")
        user = str(command.get("user_id") or "")
        if text and channel and user:
            self._start_turn(channel, "", user, text)

    # Buttons -----------------------------------------------------------------------------

    async def _on_vote(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        data = _value(action)
        user = str((body.get("user") or {}).get("id") or "")
        result = await self.feedback.vote(CHANNEL, user, data)
        await self._update(body, result)

    async def _on_file(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        result = await self.feedback.file(CHANNEL, user, _value(action))
        await self._update(body, result)

    async def _on_choice(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        choice = str(_value(action).get("choice") or "")
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        thread_ts = str(message.get("thread_ts") or container.get("thread_ts") or "")
        user = str((body.get("user") or {}).get("id") or "")
        if choice and channel and user:
            self._start_turn(channel, thread_ts, user, choice)

    async def _update(self, body: dict[str, Any], result: VoteResult) -> None:
        if result.response is None:
            return
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        if not channel or not ts:
            return
        try:
            await self.client.chat_update(
                channel=channel,
                ts=ts,
                text=plain_text(result.response),
                blocks=slack_blocks(result.response, result.votes, result.filed),
            )
        except Exception:
            log.warning("could not update the Slack message", exc_info=True)


def _well_formed(raw: bytes, content_type: str) -> bool:
    """A body Bolt can parse: a JSON object, or a form whose `payload` is a JSON object."""
    try:
        text = raw.decode("utf-8")
        if "application/json" in content_type:
            return isinstance(json.loads(text), dict)
        form = parse_qs(text, keep_blank_values=True)
        if "payload" in form:
            return isinstance(json.loads(form["payload"][0]), dict)
        return True
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False


def _value(action: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(str(action.get("value") or "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
