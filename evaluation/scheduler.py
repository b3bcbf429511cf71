"""The nightly evaluation and the daily checkpoint maintenance, scheduled inside `pmark serve`.

APScheduler 3.11 (AsyncIOScheduler) keeps its jobs in the application database
(SQLAlchemyJobStore, table `pmark_scheduler_jobs`), so every replica sees the same jobs and a run
missed while the service was down is caught up once at start (coalesce, generous grace time).
Replicas sharing one database each fire the job; inside it, a PostgreSQL advisory lock lets one
replica in, and a run already stored for the same scheduled slot makes the others skip.

Job functions are referenced by module path (serializable); the live PMark context and Agent are
kept in a module-level registry by `start_scheduler`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine, select, text

from adapters.settings import Settings
from adapters.sql.models import EvaluationRunRow
from evaluation.datasets import DEFAULT_PARSE_GOLD, DEFAULT_RETRIEVAL_GOLD
from evaluation.digest_delivery import build_digest, send_digest
from evaluation.quantiles import live_node_latency
from evaluation.runner import Evaluator

if TYPE_CHECKING:
    from adapters.channels.base import Channel
    from agent.context import PMark
    from agent.runner import Agent

log = logging.getLogger(__name__)

Scheduler: TypeAlias = AsyncIOScheduler
JOBS_TABLE = "pmark_scheduler_jobs"
EVAL_JOB_ID = "pmark-evaluation"
EVAL_ONCE_JOB_ID = "pmark-evaluation-once"
MAINTENANCE_JOB_ID = "pmark-checkpoint-maintenance"
MAINTENANCE_CRON = "30 3 * * *"
# A run missed while every replica was down is caught up once if the service is back within this.
EVAL_MISFIRE_GRACE_S = 20 * 3600
MAINTENANCE_MISFIRE_GRACE_S = 6 * 3600
_EVAL_FUNC = "evaluation.scheduler:evaluation_job"
_MAINTENANCE_FUNC = "evaluation.scheduler:maintenance_job"


@dataclass
class EvalOptions:
    """What the scheduled evaluation measures."""

    parse_gold: Path | None = DEFAULT_PARSE_GOLD
    retrieval_gold: Path | None = DEFAULT_RETRIEVAL_GOLD
    k: int = 5
    post_digest: bool = True


@dataclass
class _Registry:
    ctx: PMark | None = None
    agent: Agent | None = None
    channels: Mapping[str, Channel] | None = None
    options: EvalOptions | None = None


_REGISTRY = _Registry()


def register(
    ctx: PMark,
    agent: Agent | None = None,
    channels: Mapping[str, Channel] | None = None,
    options: EvalOptions | None = None,
) -> None:
    """Make the live context and agent available to the (importable) job functions."""
    _REGISTRY.ctx, _REGISTRY.agent = ctx, agent
    _REGISTRY.channels, _REGISTRY.options = channels, options or EvalOptions()


def _ctx() -> PMark:
    if _REGISTRY.ctx is None:
        from agent.context import PMark

        _REGISTRY.ctx = PMark()
    return _REGISTRY.ctx


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Hold a session-level PostgreSQL advisory lock named `name` (per schema) if it is free.

    Yields whether this process holds it; on other databases (one replica) always True.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        args = {"name": name}
        got = bool(
            conn.execute(
                text("select pg_try_advisory_lock(hashtext(:name), hashtext(current_schema()))"),
                args,
            ).scalar()
        )
        try:
            yield got
        finally:
            if got:
                conn.execute(
                    text("select pg_advisory_unlock(hashtext(:name), hashtext(current_schema()))"),
                    args,
                )


def current_slot(settings: Settings, now: datetime | None = None) -> str | None:
    """The latest fire time of the evaluation cron not after now (within the grace time)."""
    tz = ZoneInfo(settings.timezone)
    trigger = CronTrigger.from_crontab(settings.eval_cron, timezone=tz)
    now = now or datetime.now(tz)
    fire = trigger.get_next_fire_time(None, now - timedelta(seconds=EVAL_MISFIRE_GRACE_S + 60))
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return last.isoformat() if last else None


def slot_taken(engine: Engine, slot: str, lookback: int = 50) -> bool:
    """Whether a run for this scheduled slot is already stored (by any replica)."""
    query = select(EvaluationRunRow.config).order_by(EvaluationRunRow.id.desc()).limit(lookback)
    with engine.connect() as conn:
        return any((config or {}).get("slot") == slot for config in conn.execute(query).scalars())


def evaluate_once(ctx: PMark, slot: str | None, options: EvalOptions | None = None) -> int | None:
    """One scheduled evaluation on this replica, unless another replica has it.

    Returns the stored run id, or None when skipped. A failing run is stored as failed (by the
    runner) and the exception re-raised for the caller to log.
    """
    opts = options or _REGISTRY.options or EvalOptions()
    engine = ctx.repo.engine
    with exclusive(engine, "pmark:evaluation") as mine:
        if not mine:
            log.info("evaluation slot %s is being run by another replica", slot)
            return None
        if slot is not None and slot_taken(engine, slot):
            log.info("evaluation slot %s already ran", slot)
            return None
        parse_gold = opts.parse_gold if opts.parse_gold and opts.parse_gold.exists() else None
        retrieval_gold = (
            opts.retrieval_gold if opts.retrieval_gold and opts.retrieval_gold.exists() else None
        )
        return Evaluator(ctx).run(parse_gold, retrieval_gold, opts.k, slot=slot).run_id


async def post_latest_digest(ctx: PMark, channels: Mapping[str, Channel] | None = None) -> None:
    """Build the digest from the stored runs and post it to the configured targets; never raises."""
    try:
        digest = await asyncio.to_thread(build_digest, ctx.repo, latency=live_node_latency())
        posted, targets = await send_digest(ctx, digest, channels)
        log.info("digest posted to %d of %d targets", posted, targets)
    except Exception:
        log.exception("building or posting the digest failed")


async def evaluation_job(slot: str | None = None) -> int | None:
    """Scheduled: evaluate (in a thread, so the service keeps answering), then post the digest
    (also after a failed run, which it reports). Never raises."""
    try:
        ctx = _ctx()
        opts = _REGISTRY.options or EvalOptions()
        slot = slot or current_slot(ctx.settings)
        try:
            run_id = await asyncio.to_thread(evaluate_once, ctx, slot, opts)
            ran = run_id is not None
        except Exception:
            log.exception("scheduled evaluation failed")
            run_id, ran = None, True
        if ran and opts.post_digest:
            await post_latest_digest(ctx, _REGISTRY.channels)
        return run_id
    except Exception:
        log.exception("scheduled evaluation failed")
        return None


async def maintenance_job() -> dict[str, int]:
    """Scheduled: prune checkpoints to the latest per thread, expire idle threads; never raises."""
    agent = _REGISTRY.agent
    if agent is None:
        return {}
    try:
        ctx = _ctx()
        with exclusive(ctx.repo.engine, "pmark:maintenance") as mine:
            if not mine:
                return {}
            pruned = await agent.prune()
            expired = await agent.expire(ctx.settings.checkpoint_retention_days)
        log.info("checkpoint maintenance: %d pruned, %d expired", pruned, expired)
        return {"pruned": pruned, "expired": expired}
    except Exception:
        log.exception("checkpoint maintenance failed")
        return {}


def _ensure_job(
    scheduler: AsyncIOScheduler, job_id: str, func: str, trigger: BaseTrigger, grace: int
) -> None:
    """Add the job, or keep the stored one (and its pending, possibly missed, run time)."""
    options: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": grace}
    existing = scheduler.get_job(job_id)
    if existing is not None and existing.func_ref == func and str(existing.trigger) == str(trigger):
        scheduler.modify_job(job_id, **options)
        return
    scheduler.add_job(func, trigger, id=job_id, name=job_id, replace_existing=True, **options)


async def start_scheduler(
    ctx: PMark,
    agent: Agent | None = None,
    *,
    channels: Mapping[str, Channel] | None = None,
    options: EvalOptions | None = None,
) -> Scheduler:
    """Start the scheduler (call from the aiohttp startup): nightly evaluation on
    settings.eval_cron in settings.timezone, and daily checkpoint maintenance when an agent runs."""
    register(ctx, agent, channels, options)
    s = ctx.settings
    tz = ZoneInfo(s.timezone)
    scheduler = AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=s.sqlalchemy_url(), tablename=JOBS_TABLE)},
        timezone=tz,
    )
    scheduler.start(paused=True)
    _ensure_job(
        scheduler,
        EVAL_JOB_ID,
        _EVAL_FUNC,
        CronTrigger.from_crontab(s.eval_cron, timezone=tz),
        EVAL_MISFIRE_GRACE_S,
    )
    if agent is not None:
        _ensure_job(
            scheduler,
            MAINTENANCE_JOB_ID,
            _MAINTENANCE_FUNC,
            CronTrigger.from_crontab(MAINTENANCE_CRON, timezone=tz),
            MAINTENANCE_MISFIRE_GRACE_S,
        )
    scheduler.resume()
    log.info("scheduler started: evaluation '%s' (%s)", s.eval_cron, s.timezone)
    return scheduler


def schedule_evaluation_at(scheduler: Scheduler, when: datetime) -> None:
    """One extra evaluation at `when` (a fixed job id, so replicas scheduling it agree)."""
    scheduler.add_job(
        _EVAL_FUNC,
        DateTrigger(run_date=when),
        id=EVAL_ONCE_JOB_ID,
        name=EVAL_ONCE_JOB_ID,
        kwargs={"slot": when.isoformat()},
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=EVAL_MISFIRE_GRACE_S,
    )


async def stop_scheduler(s: Scheduler) -> None:
    """Stop the scheduler (call from the aiohttp cleanup); a running job is cancelled."""
    if not s.running:
        return
    s.shutdown(wait=False)
    # AsyncIOScheduler.shutdown only queues the shutdown on the loop: let it happen.
    for _ in range(100):
        if not s.running:
            return
        await asyncio.sleep(0.01)
