"""Teams card actions: thumbs, file and add presses, field corrections, choices, and Teams' own
feedback buttons, each answered in the invoke's HTTP response."""

from __future__ import annotations

import json
import logging
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment

from agent.runner import thread_id_for
from bot.card_parts import incomplete_response, lang_of, stale_text
from bot.cards import (
    CHOICE_VERB,
    FILE_VERB,
    SUPERSEDED,
    VOTE_VERB,
    file_later_text,
    invoke_card_response,
    invoke_message_response,
    teams_attachment,
    teams_card,
)
from bot.cards_fields import FIX_VERB, teams_fixes
from bot.cards_lifecycle import ADD_VERB
from bot.cardstate import INCOMPLETE, STALE
from bot.feedback import UNAVAILABLE, FeedbackService, VoteResult
from bot.field_fixes import FieldFixes
from bot.middleware import guess_lang
from bot.teams_activity import (
    MAX_TEXT,
    activity_user,
    as_dict,
    attachment_kwargs,
    base_and_chain,
)

log = logging.getLogger(__name__)
CHANNEL = "teams"


class TeamsCardActions:
    """What a press on a card does (mixed into TeamsBot, which renders cards and takes
    messages: `_live_card`, `_text_message`)."""

    feedback: FeedbackService
    fixes: FieldFixes | None

    async def _act(self, user: str, data: dict[str, Any]) -> VoteResult:
        if data.get("verb") == FILE_VERB:
            return await self.feedback.file(CHANNEL, user, data)
        if data.get("verb") == ADD_VERB:
            return await self.feedback.add_to(CHANNEL, user, data)
        return await self.feedback.vote(CHANNEL, user, data, str(data.get("comment") or ""))

    async def _submit(self, context: TurnContext, data: dict[str, Any]) -> None:
        """Action.Submit fallback: the click arrives as a message; the card is updated in place."""
        result = await self._act(activity_user(context.activity), data)
        if result.error in (STALE, INCOMPLETE):
            explained = await self._refused(context, result)
            if result.error == STALE:
                await context.send_activity(str(explained["value"]))
            return
        if result.response is None or not context.activity.reply_to_id:
            return
        card = self._live_card(result.response, result.votes, result.filed)
        update = Activity(
            type=ActivityTypes.message,
            id=context.activity.reply_to_id,
            attachments=[Attachment(**attachment_kwargs(teams_attachment(card)))],
        )
        try:
            await context.update_activity(update)
        except Exception:
            log.warning("could not update the card after a submit", exc_info=True)

    async def _invoke(self, context: TurnContext) -> None:
        activity = context.activity
        name = activity.name or ""
        value: dict[str, Any] = activity.value if isinstance(activity.value, dict) else {}
        body: Any = {}
        if name == "adaptiveCard/action":
            action = as_dict(value.get("action"))
            data = dict(as_dict(action.get("data")))
            data.setdefault("verb", action.get("verb"))
            if data.get("verb") == CHOICE_VERB:
                body = await self._choice_invoke(context, data)
            elif data.get("verb") in (VOTE_VERB, FILE_VERB, ADD_VERB):
                result = await self._act(activity_user(activity), data)
                if result.error in (STALE, INCOMPLETE):
                    body = await self._refused(context, result)
                elif result.error == UNAVAILABLE:
                    lang = "en" if (result.response or {}).get("lang") == "en" else "ko"
                    body = invoke_message_response(file_later_text(lang))
                elif result.response is not None:
                    body = invoke_card_response(
                        self._live_card(result.response, result.votes, result.filed)
                    )
                else:
                    body = invoke_message_response(
                        "✓" if result.error is None else "이 답변은 더 이상 수정할 수 없어요."
                    )
            elif data.get("verb") == FIX_VERB and self.fixes is not None:
                fixed = await self.fixes.fix(
                    activity_user(activity),
                    str(data.get("answer_id") or ""),
                    str(data.get("thread") or ""),
                    teams_fixes(data),
                )
                body = (
                    invoke_card_response(self._live_card(fixed))
                    if fixed is not None
                    else invoke_message_response("✓")
                )
            else:
                body = invoke_message_response("✓")
        elif name == "message/submitAction":
            await self._ai_feedback(activity, value)
        # Straight to the adapter, which keeps it as the HTTP answer: TurnContext.send_activity
        # would deep-copy the whole card first (3% of a loaded run's GIL).
        answer = Activity(
            type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=body)
        )
        await context.adapter.send_activities(context, [answer])

    async def _ai_feedback(self, activity: Activity, value: dict[str, Any]) -> None:
        """Teams' built-in feedback buttons: a reaction and free text on the whole answer."""
        action = as_dict(value.get("actionValue"))
        reaction = action.get("reaction")
        vote = 1 if reaction == "like" else -1 if reaction == "dislike" else 0
        comment = ""
        raw = action.get("feedback")
        if isinstance(raw, str):
            try:
                parsed = json.loads(raw)
                comment = str(parsed.get("feedbackText", "")) if isinstance(parsed, dict) else raw
            except ValueError:
                comment = raw
        answer_id = await self._feedback_answer(activity, value)
        await self.feedback.answer_feedback(
            CHANNEL, activity_user(activity), answer_id, vote, comment
        )

    async def _feedback_answer(self, activity: Activity, value: dict[str, Any]) -> str:
        """The answer Teams' feedback refers to, wherever the invoke carries it: the reply's
        activity id, the answer id in the value or channelData, else the conversation's
        latest card."""
        message_id = activity.reply_to_id or ""
        if message_id and (known := self.feedback.answer_for_message(message_id)):
            return known
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        for source in (
            value,
            as_dict(value.get("actionValue")),
            as_dict(channel_data.get("pmark")),
        ):
            if source.get("answer_id"):
                return str(source["answer_id"])
        base, chain = base_and_chain(activity.conversation.id)
        latest = await self.feedback.cards.latest(thread_id_for(CHANNEL, base, chain))
        if latest is not None:
            return latest.answer_id
        return f"msg:{message_id}"

    async def _stale_choice(self, context: TurnContext, data: dict[str, Any]) -> bool:
        """Tell the user (and return True) when a choice was pressed on a card that is no
        longer the conversation's latest."""
        thread, answer_id = str(data.get("thread") or ""), str(data.get("answer_id") or "")
        if await self.feedback.cards.is_current(thread, answer_id) is not False:
            return False
        old = self.feedback.cached(answer_id) or {}
        lang = lang_of(old) if old else guess_lang(str(data.get("value") or ""))
        await context.send_activity(stale_text(lang))
        return True

    async def _choice_invoke(self, context: TurnContext, data: dict[str, Any]) -> dict[str, Any]:
        """A choice button (Action.Execute): the choice becomes the user's message, and the
        card it was pressed on is closed; a stale card only explains."""
        answer_id, thread = str(data.get("answer_id") or ""), str(data.get("thread") or "")
        old = self.feedback.cached(answer_id)
        lang = lang_of(old) if old else guess_lang(str(data.get("value") or ""))
        if await self.feedback.cards.is_current(thread, answer_id) is False:
            return invoke_message_response(stale_text(lang))
        await self._text_message(context, str(data.get("value") or "")[:MAX_TEXT])
        if old is None:
            return invoke_message_response("✓")
        return invoke_card_response(teams_card(old, None, None, SUPERSEDED))

    async def _refused(self, context: TurnContext, result: VoteResult) -> dict[str, Any]:
        """A file press on a superseded or incomplete draft: explained, never filed."""
        response = result.response or {}
        lang = lang_of(response)
        if result.error == STALE:
            return invoke_message_response(stale_text(lang, "filed" if result.filed else ""))
        question = incomplete_response(response)
        await context.send_activity(
            Activity(
                type=ActivityTypes.message,
                attachments=[
                    Attachment(**attachment_kwargs(teams_attachment(teams_card(question))))
                ],
            )
        )
        return invoke_message_response(str(question["reply"]))
