"""Teams: POST /api/messages through botbuilder's CloudAdapter, answers as Adaptive Cards."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ConversationReference,
)
from cachetools import TTLCache
from msrest.universal_http.requests import ClientRetryPolicy

from adapters.channels.botframework import BotFrameworkEndpoints
from adapters.channels.connector_http import ConnectorPool, PooledSender
from adapters.channels.connector_json import read_model
from adapters.settings import Settings
from adapters.sql.repository import Repository
from adapters.tracing import in_turn_span, span
from agent.answer import error_text
from agent.outage import DatabaseUnavailable, is_outage
from agent.runner import Agent, thread_id_for
from bot.cards import (
    CHOICE_VERB,
    FILE_VERB,
    SUPERSEDED,
    VOTE_VERB,
    failure_response,
    held_text,
    invoke_message_response,
    plain_text,
    teams_attachment,
    teams_card,
)
from bot.cards_lifecycle import ADD_VERB
from bot.feedback import FeedbackService
from bot.field_fixes import FieldFixes, options_of
from bot.jobs import Background
from bot.middleware import (
    CARD_CLOSE_SHED,
    HANDLER_ERRORS,
    RATE_LIMITED,
    TYPING_SHED,
    RateLimiter,
    guess_lang,
    rate_limited_text,
)
from bot.spool import Spool, SpoolItem, claim_for_replay, claim_once
from bot.teams_actions import TeamsCardActions
from bot.teams_activity import (
    MAX_TEXT,
    activity_user,
    attachment_kwargs,
    base_and_chain,
    conversation_type_of,
    dumps_json,
    refusal_reason,
    shows_typing,
    storable_reference,
    text_without_mention,
    welcome_text,
)
from bot.teams_auth import GuardedAuthentication, KeysUnavailable, Unauthorized, precheck
from bot.teams_credentials import BotConfig, TokenCredentialFactory
from bot.turns import answer_turn

log = logging.getLogger(__name__)
CHANNEL = "teams"
SPOOL_KIND = "teams-message"
TYPING_EVERY = 3.0
CONNECTOR_TIMEOUT = 30.0  # per Bot Connector call, each retry included
AUTH_DEADLINE = 1.5  # a token is accepted or refused within this, key outage or not

# botbuilder builds new msrest clients for every activity (connector and user-token clients), and
# each builds a retry policy with `[i for i in range(999) if i not in safe_codes]` over a 500-item
# list: 3.5 ms of CPU on the event loop per client, several per message. The same codes as a set.
ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)


class TeamsBot(TeamsCardActions):
    """Turns activities into agent turns and responses into Adaptive Cards."""

    def __init__(
        self,
        settings: Settings,
        agent: Agent,
        repo: Repository,
        feedback: FeedbackService,
        limiter: RateLimiter,
        background: Background,
        endpoints: BotFrameworkEndpoints | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self.agent = agent
        self.repo = repo
        self.feedback = feedback
        self.fixes: FieldFixes | None = None  # set by the app: card corrections (issue 15)
        self.limiter = limiter
        self.background = background
        self.app_id = settings.microsoft_app_id or ""
        self.typing_after = settings.typing_after
        self.typing_repeat_below = settings.typing_repeat_below
        self.close_cards_below = settings.close_cards_below
        # References this process stored lately: each message carries one, mostly unchanged.
        self._saved_references: TTLCache[str, dict[str, Any]] = TTLCache(10_000, 600)
        endpoints = endpoints or BotFrameworkEndpoints()
        self.credentials = TokenCredentialFactory(settings, endpoints)
        inner = ConfigurationBotFrameworkAuthentication(
            BotConfig(settings, endpoints), credentials_factory=self.credentials
        )
        # One keep-alive pool for every reply of the process (adapters.channels.connector_http).
        self.connectors = ConnectorPool(PooledSender(timeout=CONNECTOR_TIMEOUT))
        self.auth = GuardedAuthentication(
            inner,
            self.app_id,
            endpoints.metadata_url() if self.app_id else None,
            connectors=self.connectors,
        )
        self.adapter = CloudAdapter(self.auth)
        self.adapter.on_turn_error = self._on_turn_error
        if not self.app_id:
            log.warning(
                "\n%s\n!! PMark Teams endpoint runs in EMULATOR MODE: no PMARK_MICROSOFT_APP_ID,\n"
                "!! so /api/messages accepts UNAUTHENTICATED requests. Never expose it so.\n%s",
                "!" * 78,
                "!" * 78,
            )

    async def aclose(self) -> None:
        """Stop key fetches and release the token client."""
        await self.auth.aclose()
        await self.credentials.aclose()
        await self.connectors.aclose()

    # HTTP --------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """POST /api/messages: 400 malformed, 401 unauthenticated, else the turn's result."""
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        header = request.headers.get("Authorization") or None
        try:
            # What no key can make valid is refused before the body is read or parsed.
            precheck(header, self.app_id)
        except Unauthorized as exc:
            log.info("Teams request refused (401): %s", exc)
            return web.json_response({"error": "unauthorized"}, status=401)
        raw = await request.read()
        try:
            # The stdlib's parser, not orjson's: it accepts a lone surrogate escape (the turn
            # then cleans it), which orjson refuses as a whole-request error.
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return web.json_response({"error": "malformed JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "an activity must be a JSON object"}, status=400)
        try:
            activity = read_model(Activity, body)
        except Exception:
            return web.json_response({"error": "malformed activity"}, status=400)
        if not activity.type or not isinstance(activity.type, str):
            return web.json_response({"error": "activity without a type"}, status=400)
        try:
            auth = await asyncio.wait_for(
                self.auth.authenticate_request(activity, header),  # type: ignore[arg-type]
                AUTH_DEADLINE,
            )
        except (KeysUnavailable, TimeoutError) as exc:
            log.info("Teams request not validated: %s", exc or "no signing keys in time")
            return web.json_response({"error": "cannot validate tokens now"}, status=503)
        except Exception as exc:
            # Unauthorized (our checks), PermissionError, PyJWT errors, or the bare Exception,
            # KeyError and AttributeError botbuilder raises for malformed or unknown tokens.
            log.info("Teams request refused (401): %s", refusal_reason(exc))
            return web.json_response({"error": "unauthorized"}, status=401)
        if not activity.service_url or not activity.conversation or not activity.conversation.id:
            return web.json_response(
                {"error": "activity without serviceUrl/conversation"}, status=400
            )
        invoke = await self.adapter.process_activity(auth, activity, self.on_turn)
        if invoke is not None:
            # orjson: the invoke body is the whole refreshed card, and the stdlib encoder was
            # the largest single cost of answering a thumb under load.
            return web.json_response(
                invoke.body or {}, status=int(invoke.status or 200), dumps=dumps_json
            )
        return web.Response(status=200)

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        HANDLER_ERRORS.labels(CHANNEL).inc()
        log.error(
            "Teams turn failed",
            exc_info=error,
            extra={"activity_id": context.activity.id, "type": context.activity.type},
        )
        try:
            if context.activity.type == ActivityTypes.message:
                await context.send_activity(error_text(guess_lang(context.activity.text or "")))
            elif context.activity.type == ActivityTypes.invoke:
                body = invoke_message_response(error_text("ko"))
                await context.send_activity(
                    Activity(
                        type=ActivityTypes.invoke_response,
                        value=InvokeResponse(status=200, body=body),
                    )
                )
        except Exception:
            log.warning("could not tell the user about the failure", exc_info=True)

    # Turn --------------------------------------------------------------------------------

    async def on_turn(self, context: TurnContext) -> None:
        """Dispatch one activity; unknown types are acknowledged and ignored."""
        kind = context.activity.type
        if kind == ActivityTypes.message:
            await self._message(context)
        elif kind == ActivityTypes.conversation_update:
            await self._conversation_update(context)
        elif kind == ActivityTypes.installation_update:
            if (context.activity.action or "").startswith("add"):
                await self._save_reference(context.activity)
        elif kind == ActivityTypes.invoke:
            await self._invoke(context)

    async def _save_reference(self, activity: Activity) -> None:
        reference = TurnContext.get_conversation_reference(activity)
        stored = storable_reference(reference)
        conversation = str(stored["conversation"]["id"])
        if self._saved_references.get(conversation) == stored:
            return  # stored by this process a moment ago, unchanged since
        await asyncio.to_thread(self.repo.save_conversation_ref, CHANNEL, conversation, stored)
        self._saved_references[conversation] = stored

    def _delivery_key(self, activity: Activity) -> str | None:
        if not activity.id:
            return None
        base = base_and_chain(activity.conversation.id)[0]
        return f"teams:{base}:{activity.type}:{activity.id}"

    async def _first_delivery(self, activity: Activity) -> bool:
        key = self._delivery_key(activity)
        if key is None:
            return True
        return await claim_once(self.repo, key, self.agent.watch)

    async def _conversation_update(self, context: TurnContext) -> None:
        activity = context.activity
        me = activity.recipient.id if activity.recipient else None
        added = [m.id for m in activity.members_added or []]
        if not me or me not in added:
            return
        try:
            # Greet once per conversation: a reinstall sends the event again with a new id.
            base = base_and_chain(activity.conversation.id)[0]
            if not await claim_once(self.repo, f"teams-welcome:{base}", self.agent.watch):
                return
            await self._save_reference(activity)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The reference is saved with the first message; the welcome is not worth a spool.
            log.warning("bot added while the database is unavailable: no welcome message")
            return
        await context.send_activity(welcome_text(conversation_type_of(activity)))

    async def _message(self, context: TurnContext) -> None:
        activity = context.activity
        value = activity.value if isinstance(activity.value, dict) else None
        if value and value.get("verb") in (VOTE_VERB, FILE_VERB, ADD_VERB):
            await self._submit(context, value)
            return
        if value and value.get("verb") == CHOICE_VERB:
            # A choice button's Action.Submit fallback: the choice is the message.
            if await self._stale_choice(context, value):
                return
            text = str(value.get("value") or "")[:MAX_TEXT]
        else:
            text = text_without_mention(activity)
        await self._text_message(context, text)

    async def _text_message(self, context: TurnContext, text: str) -> None:
        """A message (typed, or a choice pressed) for the conversation's agent."""
        activity = context.activity
        user = activity_user(activity)
        base, chain = base_and_chain(activity.conversation.id)
        thread = thread_id_for(CHANNEL, base, chain)
        key = self._delivery_key(activity)
        turn_id = uuid.uuid4().hex
        reference = TurnContext.get_conversation_reference(activity)
        if self.spool is not None:
            if key is not None and await self.spool.keeps(key):
                log.info("redelivered Teams activity %s is already kept", activity.id)
                return
            if self.agent.watch.blocking:
                await self._hold(context, reference, key, thread, text, user, turn_id, False)
                return
        try:
            first = await self._first_delivery(activity)
        except Exception as exc:
            if self.spool is None or not is_outage(exc):
                raise
            self.agent.watch.failed(exc)
            # The claim may have committed before its connection died: the replay answers
            # even if it finds the key taken (no other delivery of it was let through).
            await self._hold(
                context, reference, key, thread, text, user, turn_id, False, attempted=True
            )
            return
        if not first:
            log.info("redelivered Teams activity %s ignored", activity.id)
            return
        try:
            await self._save_reference(activity)
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("conversation reference not saved: database unavailable")
        if self.spool is not None and await self.spool.keeps_thread(thread):
            # Earlier messages of this conversation wait in the spool: answer after them.
            await self._hold(context, reference, key, thread, text, user, turn_id, True, False)
            return
        if not self.limiter.allow(f"{CHANNEL}:{user}"):
            RATE_LIMITED.labels(CHANNEL).inc()
            await context.send_activity(
                rate_limited_text(guess_lang(text), self.limiter.per_minute)
            )
            return
        self.background.spawn(
            in_turn_span(
                self._answer(reference, thread, text, user, turn_id, key),
                turn_id,
                **{"pmark.channel": CHANNEL, "pmark.thread_id": thread},
            ),
            name=f"teams-turn-{turn_id}",
        )

    async def _keep(
        self,
        reference: ConversationReference,
        key: str | None,
        thread: str,
        text: str,
        user: str,
        turn_id: str,
        claimed: bool,
        attempted: bool = False,
    ) -> bool:
        """Put a message in the spool; False when it was kept already (a redelivery)."""
        assert self.spool is not None
        payload = {
            "reference": reference.serialize(),
            "delivery_key": key,
            "claimed": claimed,
            "claim_attempted": attempted,
            "thread": thread,
            "text": text,
            "user": user,
            "turn_id": turn_id,
        }
        return await asyncio.to_thread(
            self.spool.add, key or f"teams-turn:{turn_id}", CHANNEL, SPOOL_KIND, payload, thread
        )

    async def _hold(
        self,
        context: TurnContext,
        reference: ConversationReference,
        key: str | None,
        thread: str,
        text: str,
        user: str,
        turn_id: str,
        claimed: bool,
        notify: bool = True,
        attempted: bool = False,
    ) -> None:
        """Keep a message the database cannot take now, and say so (in the user's language)."""
        if not await self._keep(reference, key, thread, text, user, turn_id, claimed, attempted):
            log.info("redelivered Teams activity is already kept", extra={"turn_id": turn_id})
            return
        log.info("Teams message kept in the spool", extra={"turn_id": turn_id})
        if notify:
            try:
                await context.send_activity(held_text(guess_lang(text)))
            except Exception:
                log.warning("could not tell the user the message was kept", exc_info=True)

    async def _answer(
        self,
        reference: ConversationReference,
        thread: str,
        text: str,
        user: str,
        turn_id: str,
        key: str | None = None,
    ) -> None:
        """The slow part of a message, after the HTTP request was acknowledged."""

        async def callback(context: TurnContext) -> None:
            typing = asyncio.get_running_loop().create_task(self._keep_typing(context, reference))
            held = False
            try:
                response = await answer_turn(
                    self.agent, self.background, CHANNEL, thread, text, user, turn_id, "Teams", log
                )
            except DatabaseUnavailable:
                held = self.spool is not None
                if not held:
                    HANDLER_ERRORS.labels(CHANNEL).inc()
                    log.error("Teams turn %s failed: database unavailable", turn_id)
                response = failure_response(turn_id, text, thread)
            finally:
                typing.cancel()
            if held:
                try:
                    await self._keep(reference, key, thread, text, user, turn_id, True)
                    notice = TurnContext.apply_conversation_reference(
                        Activity(type=ActivityTypes.message, text=held_text(guess_lang(text))),
                        reference,
                    )
                    await context.adapter.send_activities(context, [notice])
                    return
                except Exception:
                    log.exception("could not keep Teams turn %s", turn_id)
            response.setdefault("thread", thread)
            await self._send_card(context, response, reference)

        try:
            await self.adapter.continue_conversation(reference, callback, bot_app_id=self.app_id)
        except Exception:
            HANDLER_ERRORS.labels(CHANNEL).inc()
            log.exception("could not deliver Teams answer %s", turn_id, extra={"turn_id": turn_id})

    async def replay(self, item: SpoolItem) -> None:
        """Answer a kept message now that the database is back (raises to keep it longer)."""
        p = dict(item.payload)
        reference = ConversationReference().deserialize(p["reference"])
        newly = not p.get("claimed")
        assert self.spool is not None
        if not await claim_for_replay(self.repo, self.spool, item.key, p, "Teams activity"):
            return
        if newly:
            stored = storable_reference(reference)
            await asyncio.to_thread(
                self.repo.save_conversation_ref, CHANNEL, stored["conversation"]["id"], stored
            )
        thread, text, turn_id = str(p["thread"]), str(p["text"]), str(p["turn_id"])
        response = await answer_turn(
            self.agent,
            self.background,
            CHANNEL,
            thread,
            text,
            str(p["user"]),
            turn_id,
            "kept Teams",
            log,
        )
        response.setdefault("thread", thread)

        async def callback(context: TurnContext) -> None:
            await self._send_card(context, response, reference)

        # A failed delivery raises: the entry stays, and the turn (idempotent by its id) is
        # delivered on the next attempt.
        await self.adapter.continue_conversation(reference, callback, bot_app_id=self.app_id)

    async def _send_card(
        self, context: TurnContext, response: dict[str, Any], reference: ConversationReference
    ) -> None:
        """Send a response's card; the card it supersedes is closed in place (no stale button
        acts on it)."""
        reply = self._reply(response, reference)
        self.feedback.remember(response)  # a thumb may come back before the post's answer
        previous = await self.feedback.replacing(response)
        with span(f"pmark.post {CHANNEL}", **{"pmark.channel": CHANNEL}):
            sent = await context.adapter.send_activities(context, [reply])
        message_id = sent[0].id if sent and sent[0] else None
        self.feedback.remember(response, message_id)
        # Each close is a Bot Connector call (~1 ms of CPU) that only tidies the view: a press
        # on a card left open is explained as stale all the same (_stale_choice).
        shed = self.background.pending >= self.close_cards_below
        closing = await self.feedback.superseded(response, message_id, previous, not shed)
        if shed:
            CARD_CLOSE_SHED.inc(len(closing))
            return
        for previous_id, old, filed in closing:
            card = teams_card(old, None, filed, SUPERSEDED)
            update = TurnContext.apply_conversation_reference(
                Activity(
                    type=ActivityTypes.message,
                    attachments=[Attachment(**attachment_kwargs(teams_attachment(card)))],
                ),
                reference,
            )
            update.id = previous_id
            try:
                await context.adapter.update_activity(context, update)
            except Exception:
                log.warning("could not close the superseded card", exc_info=True)

    async def _keep_typing(self, context: TurnContext, reference: ConversationReference) -> None:
        if not shows_typing(
            reference.conversation.conversation_type if reference.conversation else None
        ):
            return
        # The first indicator only once the answer is late: most answers come before it, and
        # each indicator is a Bot Connector call of its own.
        await asyncio.sleep(self.typing_after)
        while True:
            try:
                typing = TurnContext.apply_conversation_reference(
                    Activity(type=ActivityTypes.typing), reference
                )
                await context.adapter.send_activities(context, [typing])
            except Exception:
                return
            await asyncio.sleep(TYPING_EVERY)
            if self.background.pending >= self.typing_repeat_below:
                # Each repeat is a Bot Connector call (~1 ms of CPU): with many answers waiting
                # the repeats took 8% of a saturated process and made every answer later still.
                TYPING_SHED.inc()
                return

    def _live_card(
        self,
        response: dict[str, Any],
        votes: Mapping[str, int] | None = None,
        filed: str | None = None,
    ) -> dict[str, Any]:
        """A card whose buttons act, with the catalog's codes to correct its fields."""
        return teams_card(response, votes, filed, options=options_of(self.fixes))

    def _reply(self, response: dict[str, Any], reference: ConversationReference) -> Activity:
        card = self._live_card(response)
        activity = Activity(
            type=ActivityTypes.message,
            summary=plain_text(response)[:200],
            attachments=[Attachment(**attachment_kwargs(teams_attachment(card)))],
            # Teams' own 👍/👎 under AI answers, reported as message/submitAction invokes; the
            # answer id rides along for clients that send channelData back.
            channel_data={
                "feedbackLoopEnabled": True,
                "pmark": {"answer_id": str(response.get("answer_id") or "")},
            },
        )
        return TurnContext.apply_conversation_reference(activity, reference)
