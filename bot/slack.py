"""Slack: a slack-bolt AsyncApp behind aiohttp (events, interactive actions, /pmark), Block Kit."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.settings import Settings
from adapters.sql.repository import Repository
from adapters.tracing import in_turn_span, span
from agent.answer import error_text
from agent.outage import DatabaseUnavailable, is_outage
from agent.runner import Agent, thread_id_for
from bot.card_parts import incomplete_response, lang_of, stale_text
from bot.cards import (
    SUPERSEDED,
    failure_response,
    file_later_text,
    held_text,
    plain_text,
    slack_blocks,
)
from bot.cards_fields import SLACK_FIX_PREFIX, slack_fix
from bot.cards_lifecycle import SLACK_ADD_ACTION
from bot.cardstate import INCOMPLETE, STALE, SentCard
from bot.feedback import UNAVAILABLE, FeedbackService, VoteResult
from bot.field_fixes import FieldFixes, options_of
from bot.jobs import Background
from bot.mentions import slack_text
from bot.middleware import HANDLER_ERRORS, RATE_LIMITED, RateLimiter, guess_lang, rate_limited_text
from bot.slack_verify import slack_refusal
from bot.spool import Spool, SpoolItem, claim_for_replay, claim_once
from bot.turns import answer_turn

log = logging.getLogger(__name__)
CHANNEL = "slack"
SPOOL_KIND = "slack-message"
MAX_TEXT = 4000
# A label stops at "<" too (Slack escapes it as &lt;): each attempt then ends before the next
# mention, so many unclosed "<@U|" cost linear time, not quadratic.
_MENTION = re.compile(r"<@[A-Z0-9]++(?:\|[^<>]*+)?>")


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
        spool: Spool | None = None,
    ) -> None:
        assert settings.slack_bot_token and settings.slack_signing_secret
        self.spool = spool
        self.agent = agent
        self.repo = repo
        self.feedback = feedback
        self.fixes: FieldFixes | None = None  # set by the app: card corrections (issue 15)
        self.limiter = limiter
        self.background = background
        self.client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
        )
        self._secret = settings.slack_signing_secret.get_secret_value().encode()
        self.app = AsyncApp(
            # Without a name Bolt calls inspect.stack() to find the caller's file name, which
            # reads the source of every frame: 0.1-0.6 s of the event loop at startup.
            name="pmark",
            client=self.client,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            # Bolt acks first and runs the rest of a listener afterwards; our listeners hand
            # the slow part to Background themselves so shutdown can account for it.
            process_before_response=False,
        )
        self._register()

    async def handle(self, request: web.Request) -> web.Response:
        """Translate aiohttp <-> Bolt, for signed requests only.

        The signature is checked on the raw bytes first: an unsigned body is never decoded,
        parsed or logged (Bolt logs the body of a request it refuses), and gets a 401.
        """
        raw = await request.read()
        refusal = slack_refusal(self._secret, request.headers, raw)
        if refusal is not None:
            log.info("Slack request refused (401): %s, %d bytes", refusal, len(raw))
            return web.json_response({"error": refusal}, status=401)
        if not _well_formed(raw, request.headers.get("Content-Type", "")):
            # Signed, so it is Slack (or a leaked secret), but Bolt cannot read it.
            log.info("signed Slack request refused (400): malformed body, %d bytes", len(raw))
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
        app.action(SLACK_ADD_ACTION)(self._on_add)
        app.action(re.compile(r"^pmark_choice_"))(self._on_choice)
        app.action(re.compile(f"^{SLACK_FIX_PREFIX}"))(self._on_fix)
        app.command("/pmark")(self._on_command)
        # Everything else is acknowledged so Slack does not retry it.
        app.event(re.compile(".*"))(self._ignore)
        app.action(re.compile(".*"))(self._ignore)
        app.error(self._on_error)

    async def _ignore(self, ack: AsyncAck) -> None:
        await ack()

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        """Whatever a listener raised (Bolt's default only logs it): logged with an id, counted,
        and the user told in the conversation, never silence."""
        error_id = uuid.uuid4().hex
        HANDLER_ERRORS.labels(CHANNEL).inc()
        log.error("Slack handler %s failed", error_id, exc_info=error, extra={"turn_id": error_id})
        channel, thread_ts, user, text = _where(body)
        if not channel:
            return
        message = error_text(guess_lang(text))
        if body.get("type") == "block_actions" and user:
            # A click: only the one who clicked needs to know.
            try:
                await self.client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=thread_ts or None, text=message
                )
                return
            except Exception:
                log.warning("could not tell %s about the failure", user, exc_info=True)
        await self._post(channel, thread_ts, message, None)

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
        key = f"slack:{event_id}" if event_id else None
        channel = str(event.get("channel") or "")
        user = str(event.get("user") or "")
        thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
        text = slack_text(str(event.get("text") or ""), _bot_user(body))[:MAX_TEXT]
        thread = thread_id_for(CHANNEL, channel, thread_ts or None)
        turn_id = uuid.uuid4().hex
        held: dict[str, Any] = {
            "channel": channel,
            "thread_ts": thread_ts,
            "thread": thread,
            "user": user,
            "text": text,
            "turn_id": turn_id,
            "delivery_key": key,
            "claimed": False,
            "reference": {
                "channel": channel,
                "team": body.get("team_id"),
                "api_app_id": body.get("api_app_id"),
            },
        }
        if self.spool is not None and channel and user:
            if key is not None and await self.spool.keeps(key):
                log.info("redelivered Slack event %s is already kept", event_id)
                return
            if self.agent.watch.blocking:
                await self._hold(held)
                return
        if key is not None:
            try:
                first = await claim_once(self.repo, key, self.agent.watch)
            except Exception as exc:
                if self.spool is None or not is_outage(exc) or not channel or not user:
                    raise
                self.agent.watch.failed(exc)
                # The claim may have committed before its connection died: the replay answers
                # even if it finds the key taken (no other delivery of it was let through).
                held["claim_attempted"] = True
                await self._hold(held)
                return
            if not first:
                log.info("redelivered Slack event %s ignored", event_id)
                return
        if not channel or not user:
            return
        held["claimed"] = True
        try:
            await asyncio.to_thread(
                self.repo.save_conversation_ref, CHANNEL, channel, held["reference"]
            )
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("conversation reference not saved: database unavailable")
        if self.spool is not None and await self.spool.keeps_thread(thread):
            # Earlier messages of this conversation wait in the spool: answer after them.
            await self._hold(held, notify=False)
            return
        self._start_turn(channel, thread_ts, user, text, key, turn_id)

    async def _keep(self, held: dict[str, Any]) -> bool:
        assert self.spool is not None
        key = held.get("delivery_key") or f"slack-turn:{held['turn_id']}"
        return await asyncio.to_thread(
            self.spool.add, key, CHANNEL, SPOOL_KIND, held, str(held["thread"])
        )

    async def _hold(self, held: dict[str, Any], notify: bool = True) -> None:
        """Keep a message the database cannot take now, and say so (in the user's language)."""
        if not await self._keep(held):
            log.info("redelivered Slack message is already kept")
            return
        log.info("Slack message kept in the spool", extra={"turn_id": held["turn_id"]})
        if notify:
            await self._post(
                str(held["channel"]),
                str(held["thread_ts"]),
                held_text(guess_lang(str(held["text"]))),
                None,
            )

    async def replay(self, item: SpoolItem) -> None:
        """Answer a kept message now that the database is back (raises to keep it longer)."""
        held = dict(item.payload)
        newly = not held.get("claimed")
        assert self.spool is not None
        if not await claim_for_replay(self.repo, self.spool, item.key, held, "Slack event"):
            return
        if newly:
            await asyncio.to_thread(
                self.repo.save_conversation_ref, CHANNEL, str(held["channel"]), held["reference"]
            )
        thread, text, turn_id = str(held["thread"]), str(held["text"]), str(held["turn_id"])
        response = await answer_turn(
            self.agent,
            self.background,
            CHANNEL,
            thread,
            text,
            str(held["user"]),
            turn_id,
            "kept Slack",
            log,
        )
        response.setdefault("thread", thread)
        self.feedback.remember(response)
        previous = await self.feedback.replacing(response)
        # Raises when Slack does not take it: the entry stays for the next attempt.
        posted = await self.client.chat_postMessage(
            channel=str(held["channel"]),
            thread_ts=str(held["thread_ts"]) or None,
            text=plain_text(response),
            blocks=self._live_blocks(response),
        )
        await self._close_previous(str(held["channel"]), response, _ts(posted), previous)

    def _start_turn(
        self,
        channel: str,
        thread_ts: str,
        user: str,
        text: str,
        key: str | None = None,
        turn_id: str | None = None,
    ) -> None:
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
        turn_id = turn_id or uuid.uuid4().hex
        self.background.spawn(
            in_turn_span(
                self._answer(channel, thread_ts, thread, user, text, turn_id, key),
                turn_id,
                **{"pmark.channel": CHANNEL, "pmark.thread_id": thread},
            ),
            name=f"slack-turn-{turn_id}",
        )

    async def _answer(
        self,
        channel: str,
        thread_ts: str,
        thread: str,
        user: str,
        text: str,
        turn_id: str,
        key: str | None = None,
    ) -> None:
        try:
            response = await answer_turn(
                self.agent, self.background, CHANNEL, thread, text, user, turn_id, "Slack", log
            )
        except DatabaseUnavailable:
            if self.spool is not None:
                held = {
                    "channel": channel,
                    "thread_ts": thread_ts,
                    "thread": thread,
                    "user": user,
                    "text": text,
                    "turn_id": turn_id,
                    "delivery_key": key,
                    "claimed": True,
                    "reference": {"channel": channel},
                }
                try:
                    await self._hold(held)
                    return
                except Exception:
                    log.exception("could not keep Slack turn %s", turn_id)
            HANDLER_ERRORS.labels(CHANNEL).inc()
            response = failure_response(turn_id, text, thread)
        response.setdefault("thread", thread)
        self.feedback.remember(response)
        previous = await self.feedback.replacing(response)
        blocks = self._live_blocks(response)
        ts = await self._post(channel, thread_ts, plain_text(response), blocks)
        await self._close_previous(channel, response, ts, previous)

    def _live_blocks(
        self,
        response: dict[str, Any],
        votes: Mapping[str, int] | None = None,
        filed: str | None = None,
    ) -> list[dict[str, Any]]:
        """Blocks whose buttons act, with the catalog's codes to correct the fields."""
        return slack_blocks(response, votes, filed, options=options_of(self.fixes))

    async def _close_previous(
        self, channel: str, response: dict[str, Any], ts: str, previous: SentCard | None
    ) -> None:
        """The card a new one supersedes loses its buttons (chat.update): no stale button acts."""
        if not ts:
            return
        for previous_ts, old, filed in await self.feedback.superseded(response, ts, previous):
            try:
                await self.client.chat_update(
                    channel=channel,
                    ts=previous_ts,
                    text=plain_text(old),
                    blocks=slack_blocks(old, None, filed, SUPERSEDED),
                )
            except Exception:
                log.warning("could not close the superseded Slack message", exc_info=True)

    async def _post(
        self, channel: str, thread_ts: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> str:
        """Post a message; its ts ('' when Slack did not take it)."""
        try:
            with span(f"pmark.post {CHANNEL}", **{"pmark.channel": CHANNEL}):
                posted = await self.client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts or None, text=text, blocks=blocks
                )
            return _ts(posted)
        except Exception:
            HANDLER_ERRORS.labels(CHANNEL).inc()
            log.exception("could not post to Slack channel %s", channel)
            return ""

    async def _tell(self, body: dict[str, Any], text: str) -> None:
        """A short note only the one who clicked sees."""
        channel, thread_ts, user, _ = _where(body)
        if not channel or not user:
            return
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts or None, text=text
            )
        except Exception:
            log.warning("could not tell %s", user, exc_info=True)

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
        if result.error == STALE:
            reason = "filed" if result.filed else ""
            await self._tell(body, stale_text(lang_of(result.response or {}), reason))
            return
        await self._update(body, result)

    async def _on_file(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        result = await self.feedback.file(CHANNEL, user, _value(action))
        if result.error == STALE:
            await self._tell(body, stale_text(lang_of(result.response or {}), ""))
            return
        if result.error == INCOMPLETE and result.response is not None:
            question = incomplete_response(result.response)
            channel, thread_ts, _, _ = _where(body)
            if channel:
                await self._post(channel, thread_ts, str(question["reply"]), slack_blocks(question))
            return
        if result.error == UNAVAILABLE:
            container = body.get("container") or {}
            message = body.get("message") or {}
            channel = str(
                container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
            )
            thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
            lang = "en" if (result.response or {}).get("lang") == "en" else "ko"
            if channel:
                await self._post(channel, thread_ts, file_later_text(lang), None)
            return
        await self._update(body, result)

    async def _on_add(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        await self._update(body, await self.feedback.add_to(CHANNEL, user, _value(action)))

    async def _on_choice(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        data = _value(action)
        choice = str(data.get("value") or data.get("choice") or "")
        thread, answer_id = str(data.get("thread") or ""), str(data.get("answer_id") or "")
        if answer_id and await self.feedback.cards.is_current(thread, answer_id) is False:
            old = self.feedback.cached(answer_id)
            await self._tell(body, stale_text(lang_of(old) if old else guess_lang(choice)))
            return
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        thread_ts = str(message.get("thread_ts") or container.get("thread_ts") or "")
        user = str((body.get("user") or {}).get("id") or "")
        if choice and channel and user:
            self._start_turn(channel, thread_ts, user, choice)

    async def _on_fix(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        fix = slack_fix(action, str(action.get("block_id") or ""))
        user = str((body.get("user") or {}).get("id") or "")
        if fix is None or not user or self.fixes is None:
            return
        answer_id, thread, field, code = fix
        fixed = await self.fixes.fix(user, answer_id, thread, {field: code})
        if fixed is not None:
            await self._update(body, VoteResult(True, fixed))

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
                blocks=self._live_blocks(result.response, result.votes, result.filed),
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


def _where(body: dict[str, Any]) -> tuple[str, str, str, str]:
    """(channel, thread ts, user, text) of an event, a click or a slash command."""
    if isinstance(body.get("event"), dict):
        event = body["event"]
        thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
        return (
            str(event.get("channel") or ""),
            thread_ts,
            str(event.get("user") or ""),
            _text(event.get("text")),
        )
    if body.get("type") == "block_actions":
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
        ts = message.get("thread_ts") or container.get("thread_ts") or message.get("ts")
        user = (body.get("user") or {}).get("id") or ""
        return str(channel), str(ts or ""), str(user), ""
    return (
        str(body.get("channel_id") or ""),
        "",
        str(body.get("user_id") or ""),
        _text(body.get("text")),
    )


def _bot_user(body: dict[str, Any]) -> str:
    """PMark's own Slack user id, as the event's authorizations name it."""
    for auth in body.get("authorizations") or []:
        if isinstance(auth, dict) and auth.get("is_bot") and auth.get("user_id"):
            return str(auth["user_id"])
    return ""


def _ts(posted: Any) -> str:
    """The ts of a chat.postMessage answer."""
    try:
        return str(posted.get("ts") or "")
    except Exception:
        return ""


def _value(action: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(str(action.get("value") or "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
