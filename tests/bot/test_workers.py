"""The pieces of `pmark serve --workers N` that need no server: how many, and what is shared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.settings import Settings
from bot.middleware import RateLimiter
from bot.spool import Spool
from bot.workers import WorkerRole, WorkersError, available_cores, current_role, worker_count

PG = "postgresql://pmark:secret@127.0.0.1:5432/pmark"


def _settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


def test_the_worker_count_is_one_per_core_with_postgresql_and_one_without() -> None:
    assert worker_count(_settings()) == 1
    assert worker_count(_settings(postgres_url=PG)) == available_cores() >= 1
    assert worker_count(_settings(postgres_url=PG), 3) == 3
    assert worker_count(_settings(postgres_url=PG, workers=2)) == 2
    assert worker_count(_settings(workers=1)) == 1
    with pytest.raises(WorkersError, match="PostgreSQL"):
        worker_count(_settings(), 2)
    with pytest.raises(WorkersError):
        worker_count(_settings(postgres_url=PG), 0)


def test_the_role_comes_from_the_supervisor_and_nonsense_means_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PMARK_WORKER_INDEX", "1")
    monkeypatch.setenv("PMARK_WORKER_COUNT", "2")
    assert current_role() == WorkerRole(1, 2)
    assert current_role().shared and not current_role().leader
    monkeypatch.setenv("PMARK_WORKER_INDEX", "5")
    assert current_role() == WorkerRole()
    monkeypatch.setenv("PMARK_WORKER_INDEX", "x")
    assert current_role().leader and not current_role().shared


def test_serve_refuses_several_workers_without_postgresql(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env["PMARK_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pmark"), "serve", "--workers", "2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "PMARK_POSTGRES_URL" in done.stderr


def test_each_worker_allows_its_share_of_a_users_messages() -> None:
    alone, one_of_two = RateLimiter(5), RateLimiter(5, processes=2)
    assert sum(alone.allow("u") for _ in range(10)) == 5
    assert sum(one_of_two.allow("u") for _ in range(10)) == 3
    assert one_of_two.per_minute == 5  # what the user is told is the server's limit


async def test_a_shared_spool_sees_what_another_worker_kept(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    mine, theirs = Spool(path, shared=True), Spool(path, shared=True)
    unaware = Spool(path)
    try:
        theirs.add("k1", "teams", "teams-message", {"x": 1}, thread="t1")
        assert mine.pending == 0  # the count is this process's view...
        assert await mine.keeps("k1") and await mine.keeps_thread("t1")  # ...not the answer
        assert not await unaware.keeps("k1")  # a spool that is not shared trusts its count
        assert mine.refresh() == 1
    finally:
        for spool in (mine, theirs, unaware):
            spool.close()
