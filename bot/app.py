"""The one aiohttp app: Teams, Slack, health, readiness and metrics; `pmark serve` runs it."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

from aiohttp import web

from adapters import tracing
from adapters.channels.botframework import BotFrameworkEndpoints
from adapters.cmms.outbox import OutboxWorker
from adapters.logging_redact import install_redaction
from adapters.settings import Settings, get_settings
from adapters.sql.repository import utcnow
from agent.context import PMark
from agent.runner import Agent
from agent.service import open_agent
from bot.feedback import FeedbackService
from bot.field_fixes import FieldFixes
from bot.health import CHECKS, READY, Check, add_routes
from bot.home import home_routes
from bot.http_guard import body_timeout, quiet_bad_requests
from bot.jobs import start_background
from bot.looplag import freeze_heap, start_loop_lag, unfreeze_heap
from bot.middleware import RateLimiter, body_limit, errors
from bot.slack import SlackBot
from bot.spool import Replayer, Spool
from bot.teams import TeamsBot
from evaluation.page import eval_routes
from evaluation.scheduler import start_scheduler, stop_scheduler

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("pmark_settings", Settings)
CONTEXT = web.AppKey("pmark_context", PMark)
AGENT = web.AppKey("pmark_agent", Agent)
FEEDBACK = web.AppKey("pmark_feedback", FeedbackService)
TEAMS = web.AppKey("pmark_teams", TeamsBot)
SLACK = web.AppKey("pmark_slack", SlackBot)
EVENT_RETENTION = timedelta(days=2)
SPOOL_FILE = "spool.sqlite"


def _warm(ctx: PMark) -> None:
    """Everything slow to build, built before the first request (off the event loop)."""
    ctx.ensure_index()
    _ = ctx.parser
    ctx.embedder.encode(["warm up"])


def _checks(ctx: PMark, agent: Agent) -> dict[str, Check]:
    async def database() -> bool:
        return await asyncio.to_thread(ctx.repo.ping)

    async def checkpointer() -> bool:
        return await agent.checkpointing.ping()

    async def search() -> bool:
        return await asyncio.to_thread(ctx.index.health)

    checks: dict[str, Check] = {
        "database": database,
        "checkpointer": checkpointer,
        "search": search,
    }
    llm = agent.deps.llm
    if llm is not None:
        checks["llm"] = llm.health
    return checks


def build_app(
    settings: Settings | None = None,
    *,
    ctx: PMark | None = None,
    endpoints: BotFrameworkEndpoints | None = None,
) -> web.Application:
    """The application; the agent opens at startup and closes at cleanup."""
    settings = settings or get_settings()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            errors,
            body_limit(settings.max_body_bytes),
            body_timeout(settings.body_timeout),
        ],
    )
    app[SETTINGS] = settings
    app[READY] = asyncio.Event()
    app[CHECKS] = {}
    # First, so it measures startup as well and stops last.
    start_loop_lag(app)
    background = start_background(app)
    context = ctx or PMark(settings)

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        app[CONTEXT] = context
        await asyncio.to_thread(_warm, context)
        freeze_heap()  # the models and the index: the bulk of the heap (again before ready)
        async with AsyncExitStack() as stack:
            agent = await stack.enter_async_context(open_agent(context))
            app[AGENT] = agent
            limiter = RateLimiter(settings.rate_limit_per_minute)
            # What arrives while the database is down waits here, on local disk.
            spool = Spool(settings.data_dir / SPOOL_FILE)
            stack.callback(spool.close)
            feedback = FeedbackService(
                context.repo,
                settings.supervisors,
                state=agent.state,
                index=context.index_notifications,
                spool=spool,
                watch=agent.watch,
                lifecycle=agent.lifecycle,
            )
            app[FEEDBACK] = feedback
            teams = TeamsBot(
                settings, agent, context.repo, feedback, limiter, background, endpoints, spool
            )
            stack.push_async_callback(teams.aclose)
            app[TEAMS] = teams
            fixes = FieldFixes(context, feedback)  # card corrections of parsed fields
            teams.fixes = fixes
            replayer = Replayer(spool, agent.watch, lambda coro, name: background.spawn(coro, name))
            replayer.register("teams-message", teams.replay)
            replayer.register("feedback", feedback.replay)
            if settings.slack_bot_token and settings.slack_signing_secret:
                slack = SlackBot(
                    settings, agent, context.repo, feedback, limiter, background, spool
                )
                replayer.register("slack-message", slack.replay)
                slack.fixes = fixes
                app[SLACK] = slack
            else:
                log.info("Slack is not configured (PMARK_SLACK_BOT_TOKEN/SIGNING_SECRET)")
            app[CHECKS].update(_checks(context, agent))
            if teams.app_id:
                # Not ready while no Bot Framework signing key can be had.
                app[CHECKS]["auth"] = teams.auth.ready
            # The database watch probes fast while the database is down; the replay answers
            # what the spool kept as soon as it is back (and after a restart).
            background.every("database-watch", 0.25, agent.watch.tick, first_delay=0.25)
            background.every("spool-replay", 0.5, replayer.tick, first_delay=0.5)
            background.every(
                "forget-delivery-ids",
                3600,
                lambda: asyncio.to_thread(
                    context.repo.forget_events_before, utcnow() - EVENT_RETENTION
                ),
                first_delay=60,
            )
            background.spawn(teams.auth.prewarm(), name="prewarm-keys")
            # CMMS hand-over: retried from the database outbox; never part of /readyz.
            cmms = OutboxWorker.from_settings(context.repo, settings)
            if cmms is not None:
                stack.push_async_callback(cmms.aclose)
                background.every(
                    "cmms-outbox", settings.cmms_poll_seconds, cmms.tick, first_delay=1.0
                )
            scheduler = None
            if settings.eval_schedule_enabled:
                try:
                    scheduler = await start_scheduler(context, agent)
                except Exception:
                    # The nightly evaluation is worth a log line, never a service that won't start.
                    log.exception("evaluation scheduler did not start")
            # Everything long-lived exists now: keep it out of the collector's full passes.
            freeze_heap()
            app[READY].set()
            try:
                yield
            finally:
                app[READY].clear()
                if scheduler is not None:
                    await stop_scheduler(scheduler)
                # Let answers in flight reach their users before the agent closes.
                await background.close()
                unfreeze_heap()

    # After start_background's hook: cleanup runs in reverse, so turns end before the agent.
    app.cleanup_ctx.append(lifespan)
    app.router.add_post("/api/messages", _teams_messages)
    for path in ("/slack/events", "/slack/actions", "/slack/commands"):
        app.router.add_post(path, _slack)
    add_routes(app)
    app.add_routes(home_routes(settings))
    app.add_routes(eval_routes(context))
    return app


async def _teams_messages(request: web.Request) -> web.Response:
    teams = request.app.get(TEAMS)
    if teams is None:
        return web.json_response({"error": "starting"}, status=503)
    return await teams.handle(request)


async def _slack(request: web.Request) -> web.Response:
    slack = request.app.get(SLACK)
    if slack is None:
        return web.json_response({"error": "Slack is not configured"}, status=404)
    return await slack.handle(request)


def configure_logging(level: str, settings: Settings | None = None) -> None:
    """Plain timestamped logs on stderr, with the configured secrets masked."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction(settings)
    quiet_bad_requests()


def run(host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM (PMARK_HOST/PMARK_PORT unless given)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings)
    host = host or settings.host
    port = port or settings.port
    log.info("PMark serving on http://%s:%d", host, port)
    tracing.configure(settings)
    try:
        web.run_app(
            build_app(settings),
            host=host,
            port=port,
            access_log=None,
            # Also the deadline for a complete request head on a new connection (aiohttp arms the
            # keep-alive timer when a connection opens): a slowloris client is dropped after it.
            keepalive_timeout=settings.header_timeout,
            shutdown_timeout=settings.shutdown_timeout,
            print=None,
        )
    finally:
        tracing.shutdown()  # sends the spans still buffered
    # The process ends now: hide the heap from the collector's last passes at exit, which
    # walked the whole model-laden heap for 5-10 s on a busy machine after a clean stop.
    gc.freeze()
