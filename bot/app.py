"""The one aiohttp app: Teams, Slack, health, readiness and metrics; `pmark serve` runs it."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

from aiohttp import web
from threadpoolctl import threadpool_limits

from adapters import tracing
from adapters.channels.botframework import BotFrameworkEndpoints
from adapters.cmms.outbox import OutboxWorker
from adapters.logging_redact import install_redaction
from adapters.settings import Settings, get_settings
from adapters.sql.cards import CardStore
from adapters.sql.repository import utcnow
from agent.context import PMark
from agent.parsing.corrections import learn_new_corrections
from agent.runner import Agent
from agent.service import open_agent
from bot.feedback import FeedbackService
from bot.field_fixes import FieldFixes
from bot.health import CHECKS, READY, Check, add_routes
from bot.home import home_routes
from bot.http_guard import body_timeout, quiet_bad_requests
from bot.jobs import Background, start_background
from bot.looplag import freeze_heap, start_loop_lag, unfreeze_heap
from bot.middleware import RateLimiter, body_limit, errors
from bot.slack import SlackBot
from bot.spool import Replayer, Spool
from bot.teams import TeamsBot
from bot.workers import current_role, supervise, worker_count
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
# How soon a correction made through another worker reaches this worker's parser.
CORRECTION_SYNC_S = 2.0


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


def _start_leader_jobs(
    background: Background,
    context: PMark,
    settings: Settings,
    replayer: Replayer,
    stack: AsyncExitStack,
    cards: CardStore | None,
) -> None:
    """What runs once per server (in worker 0 when there are several)."""
    # The replay answers what the spool kept as soon as the database is back (and after a
    # restart); one replayer for the shared spool file, so no entry is answered twice.
    background.every("spool-replay", 0.5, replayer.tick, first_delay=0.5)
    background.every(
        "forget-delivery-ids",
        3600,
        lambda: asyncio.to_thread(context.repo.forget_events_before, utcnow() - EVENT_RETENTION),
        first_delay=60,
    )
    if cards is not None:
        # A conversation quiet that long has lost its checkpoints too (retention).
        cutoff = timedelta(days=settings.checkpoint_retention_days)
        background.every(
            "forget-old-cards",
            3600,
            lambda: asyncio.to_thread(cards.forget_before, utcnow() - cutoff),
            first_delay=90,
        )
    # CMMS hand-over: retried from the database outbox; never part of /readyz.
    cmms = OutboxWorker.from_settings(context.repo, settings)
    if cmms is not None:
        stack.push_async_callback(cmms.aclose)
        background.every("cmms-outbox", settings.cmms_poll_seconds, cmms.tick, first_delay=1.0)


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
    role = current_role()

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        app[CONTEXT] = context
        await asyncio.to_thread(_warm, context)
        freeze_heap()  # the models and the index: the bulk of the heap (again before ready)
        async with AsyncExitStack() as stack:
            agent = await stack.enter_async_context(open_agent(context))
            app[AGENT] = agent
            limiter = RateLimiter(settings.rate_limit_per_minute, processes=role.count)
            # What arrives while the database is down waits here, on local disk (one file for
            # all workers; worker 0 replays it).
            spool = Spool(settings.data_dir / SPOOL_FILE, shared=role.shared)
            stack.callback(spool.close)
            # Which card of a thread is current: in the database wherever another process
            # (a worker, a replica on a server database) may send the thread's next card.
            shared_db = not settings.sqlalchemy_url().startswith("sqlite")
            cards = CardStore(context.repo.engine) if role.shared or shared_db else None
            feedback = FeedbackService(
                context.repo,
                settings.supervisors,
                state=agent.state,
                index=context.index_notifications,
                spool=spool,
                watch=agent.watch,
                lifecycle=agent.lifecycle,
                cards=cards,
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
            replayer.register("feedback-unchecked", feedback.replay_unchecked)
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
            # The database watch probes fast while the database is down.
            background.every("database-watch", 0.25, agent.watch.tick, first_delay=0.25)
            if role.shared:
                # Corrections made through another worker teach this one's parser too.
                background.every(
                    "learn-corrections",
                    CORRECTION_SYNC_S,
                    lambda: asyncio.to_thread(learn_new_corrections, context),
                    first_delay=CORRECTION_SYNC_S,
                )
            background.spawn(teams.auth.prewarm(), name="prewarm-keys")
            if role.leader:
                _start_leader_jobs(background, context, settings, replayer, stack, cards)
            scheduler = None
            if settings.eval_schedule_enabled and role.leader:
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
    role = current_role()
    # Several workers write to one stream: each line says whose it is.
    who = f"[w{role.index}] " if role.shared else ""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s {who}%(name)s: %(message)s",
    )
    install_redaction(settings)
    quiet_bad_requests()


def run(host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM (PMARK_HOST/PMARK_PORT unless given)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings)
    host = host or settings.host
    port = port or settings.port
    role = current_role()
    if not role.shared:
        log.info("PMark serving on http://%s:%d", host, port)
    tracing.configure(settings)
    threadpool_limits(settings.blas_threads)  # for the life of the process
    try:
        web.run_app(
            build_app(settings),
            host=host,
            port=port,
            # Workers of one server each bind the port; the kernel spreads connections.
            reuse_port=role.shared or None,
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


def run_workers(host: str | None, port: int | None, requested: int | None) -> int | None:
    """Supervise several workers and return the exit code; None when this process should
    serve by itself (one worker, or it is a worker)."""
    settings = get_settings()
    count = worker_count(settings, requested)
    if count == 1 or current_role().shared:
        return None
    configure_logging(settings.log_level, settings)
    return supervise(settings, host or settings.host, port or settings.port, count)
