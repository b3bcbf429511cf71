"""One agent turn for a channel: in a turn slot, bounded in time, a failure explained."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.outage import DatabaseUnavailable
from agent.runner import Agent
from bot.cards import failure_response
from bot.jobs import Background
from bot.middleware import HANDLER_ERRORS

TURN_TIMEOUT = 120.0


async def answer_turn(
    agent: Agent,
    background: Background,
    channel: str,
    thread: str,
    text: str,
    user: str,
    turn_id: str,
    label: str,
    logger: logging.Logger,
) -> dict[str, Any]:
    """The agent's response, or an explained failure (counted, and logged with the turn id on
    the channel's logger).

    `DatabaseUnavailable` propagates: the caller keeps the message for later instead.
    """
    try:
        async with background.turn_slot():
            return await asyncio.wait_for(
                agent.turn(thread, text, user_id=user, turn_id=turn_id), TURN_TIMEOUT
            )
    except DatabaseUnavailable:
        raise
    except Exception:
        HANDLER_ERRORS.labels(channel).inc()
        logger.exception("%s turn %s failed", label, turn_id, extra={"turn_id": turn_id})
        return failure_response(turn_id, text, thread)
