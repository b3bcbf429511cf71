"""The scheduled evaluation: jobs in the app database, catch-up, failures, one run per slot."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import create_engine, inspect, text

from adapters.settings import Settings
from evaluation import scheduler as sch
from evaluation.datasets import (
    retrieval_gold_from_history,
    small_catalog,
    synthesize_history,
    synthesize_parse_gold,
    write_jsonl,
)

REPO = Path(__file__).resolve().parents[2]
YEARLY = "0 0 1 1 *"  # never fires during a test on its own


def _context(settings: Settings, tmp: Path) -> tuple[Any, sch.EvalOptions]:
    from agent.context import PMark

    ctx = PMark(settings)
    catalog = small_catalog()
    history = synthesize_history(catalog, 40, seed=7)
    ctx.repo.upsert_catalog(catalog)
    ctx.repo.upsert_notifications(history)
    options = sch.EvalOptions(
        parse_gold=write_jsonl(tmp / "parse.jsonl", synthesize_parse_gold(catalog, 10, 1)),
        retrieval_gold=write_jsonl(
            tmp / "retrieval.jsonl", retrieval_gold_from_history(history, 8, 1)
        ),
        k=5,
        post_digest=False,
    )
    return ctx, options


class RecordingAgent:
    """Stands in for agent.runner.Agent's maintenance methods and records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []

    async def prune(self) -> int:
        self.calls.append(("prune", None))
        return 2

    async def expire(self, days: int) -> int:
        self.calls.append(("expire", days))
        return 1


def test_current_slot_is_the_latest_fire_time_within_grace() -> None:
    settings = Settings(eval_cron="0 2 * * *", timezone="Asia/Seoul", _env_file=None)  # type: ignore[call-arg]
    kst = datetime.fromisoformat("2024-05-02T02:30:00+09:00")
    assert sch.current_slot(settings, kst) == "2024-05-02T02:00:00+09:00"
    assert sch.current_slot(settings, kst + timedelta(hours=19)) == "2024-05-02T02:00:00+09:00"
    assert sch.current_slot(settings, kst + timedelta(hours=22)) is None


async def _wait_for_run(ctx: Any, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in ctx.repo.runs(5) if r["status"] != "running"]
        if runs:
            return runs[0]
        await asyncio.sleep(0.3)
    raise AssertionError("no evaluation run was stored")


async def test_jobs_live_in_the_app_database_and_a_missed_run_is_caught_up_once(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", eval_cron=YEARLY, _env_file=None)  # type: ignore[call-arg]
    ctx, options = _context(settings, tmp_path)
    agent = RecordingAgent()
    s = await sch.start_scheduler(ctx, agent, options=options)  # type: ignore[arg-type]
    try:
        job = s.get_job(sch.EVAL_JOB_ID)
        assert job is not None and job.func_ref == "evaluation.scheduler:evaluation_job"
        assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time >= 3600
        assert s.get_job(sch.MAINTENANCE_JOB_ID) is not None
    finally:
        await sch.stop_scheduler(s)
    # While every replica was down, the job fell due (moved back in the stored job, paused).
    store = AsyncIOScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(url=settings.sqlalchemy_url(), tablename=sch.JOBS_TABLE)
        }
    )
    store.start(paused=True)
    store.modify_job(sch.EVAL_JOB_ID, next_run_time=datetime.now(UTC) - timedelta(minutes=5))
    await sch.stop_scheduler(store)
    engine = create_engine(settings.sqlalchemy_url())
    with engine.connect() as conn:
        ids = set(conn.execute(text(f"select id from {sch.JOBS_TABLE}")).scalars())
    assert ids == {sch.EVAL_JOB_ID, sch.MAINTENANCE_JOB_ID}
    assert ctx.repo.runs(5) == []

    s = await sch.start_scheduler(ctx, agent, options=options)  # type: ignore[arg-type]
    try:
        run = await _wait_for_run(ctx)
        await asyncio.sleep(1.0)
        assert s.running
        next_run = s.get_job(sch.EVAL_JOB_ID).next_run_time
    finally:
        await sch.stop_scheduler(s)
    assert run["status"] == "ok" and run["config"]["kind"] == "full"
    assert run["metrics"]["retrieval"]["n"] == 8 and run["metrics"]["parsing"]["n"] == 10
    assert len(ctx.repo.runs(5)) == 1  # caught up once, not once per missed time
    assert next_run > datetime.now(UTC) + timedelta(days=1)


async def test_a_failing_run_is_stored_as_failed_and_the_service_goes_on(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", eval_cron=YEARLY, _env_file=None)  # type: ignore[call-arg]
    ctx, options = _context(settings, tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{broken\n", encoding="utf-8")
    options.retrieval_gold = bad
    s = await sch.start_scheduler(ctx, options=options)
    try:
        assert await sch.evaluation_job() is None  # logged, not raised
        assert s.running
        assert await sch.evaluation_job(slot="slot-1") is None
        assert await sch.evaluation_job(slot="slot-1") is None  # slot taken: not run again
    finally:
        await sch.stop_scheduler(s)
    runs = ctx.repo.runs(10)
    assert [r["status"] for r in runs] == ["failed", "failed"]
    assert "bad.jsonl:1" in runs[0]["error"] and runs[0]["config"]["slot"] == "slot-1"


async def test_maintenance_prunes_and_expires_with_the_retention(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", eval_cron=YEARLY, checkpoint_retention_days=9, _env_file=None
    )  # type: ignore[call-arg]
    ctx, options = _context(settings, tmp_path)
    agent = RecordingAgent()
    s = await sch.start_scheduler(ctx, agent, options=options)  # type: ignore[arg-type]
    try:
        assert await sch.maintenance_job() == {"pruned": 2, "expired": 1}
    finally:
        await sch.stop_scheduler(s)
    assert agent.calls == [("prune", None), ("expire", 9)]


_REPLICA = """
import asyncio, sys
from datetime import datetime
from pathlib import Path
from agent.context import PMark
from evaluation import scheduler as sch

async def main() -> None:
    ctx = PMark()
    ctx.ensure_index()
    _ = ctx.parser
    options = sch.EvalOptions(Path(sys.argv[1]), Path(sys.argv[2]), 5, post_digest=False)
    s = await sch.start_scheduler(ctx, options=options)
    print("READY", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    when = datetime.fromisoformat(line.strip())
    sch.schedule_evaluation_at(s, when)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 150
    while loop.time() < deadline:
        await asyncio.sleep(0.5)
        if any(r["status"] != "running" for r in ctx.repo.runs(5)):
            break
    await asyncio.sleep(4)
    await sch.stop_scheduler(s)
    print("DONE", flush=True)

asyncio.run(main())
"""


@pytest.mark.postgres
def test_two_replicas_sharing_postgres_run_a_scheduled_job_once(
    pg_sqlalchemy_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "setup",
        database_url=pg_sqlalchemy_url,
        eval_cron=YEARLY,
        _env_file=None,
    )  # type: ignore[call-arg]
    ctx, options = _context(settings, tmp_path)
    script = tmp_path / "replica.py"
    script.write_text(_REPLICA, encoding="utf-8")
    procs = []
    for i in range(2):
        env = {
            **os.environ,
            "PMARK_DATA_DIR": str(tmp_path / f"replica{i}"),
            "PMARK_DATABASE_URL": pg_sqlalchemy_url,
            "PMARK_EVAL_CRON": YEARLY,
            "PYTHONPATH": str(REPO),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), str(options.parse_gold), str(options.retrieval_gold)],
                cwd=REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "READY"
        when = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(when + "\n")
            p.stdin.flush()
        for p in procs:
            assert p.wait(timeout=240) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    runs = ctx.repo.runs(10)
    assert len(runs) == 1, [(r["id"], r["status"], r["config"].get("slot")) for r in runs]
    assert runs[0]["status"] == "ok" and runs[0]["config"]["slot"] == when
    assert inspect(ctx.repo.engine).has_table(sch.JOBS_TABLE)
