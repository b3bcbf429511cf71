"""Pooled PostgreSQL connections: no ping while busy, a dead one never reaches the caller."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Engine, text

from adapters.sql import liveness
from adapters.sql.engine import autocommit, make_engine

pytestmark = pytest.mark.postgres


def _pings(engine: Engine) -> int:
    pool = engine.pool
    records = list(pool._pool.queue)  # type: ignore[attr-defined]  # the QueuePool's idle records
    return sum(r.info.get(liveness.PINGS, 0) for r in records)


def _backend_pid(engine: Engine) -> int:
    with autocommit(engine) as connection:
        return int(connection.execute(text("select pg_backend_pid()")).scalar_one())


def test_a_connection_in_steady_use_is_not_pinged(
    pg_sqlalchemy_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An hour's idle window: a stalled machine cannot turn a checkout into an idle one.
    monkeypatch.setattr(liveness, "IDLE_PING_S", 3600.0)
    engine = make_engine(pg_sqlalchemy_url, pool_size=1, max_overflow=0)
    try:
        first = _backend_pid(engine)
        for _ in range(20):
            assert _backend_pid(engine) == first
        assert _pings(engine) == 0
    finally:
        engine.dispose()


def test_a_connection_the_server_ended_is_replaced_before_use(
    pg_sqlalchemy_url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the socket poll can notice here: the idle ping is an hour away.
    monkeypatch.setattr(liveness, "IDLE_PING_S", 3600.0)
    engine = make_engine(pg_sqlalchemy_url, pool_size=1, max_overflow=0)
    try:
        victim = _backend_pid(engine)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            # With a timeout, pg_terminate_backend returns once the backend has exited.
            ended = admin.execute("select pg_terminate_backend(%s, 30000)", (victim,)).fetchone()
            assert ended is not None and ended[0] is True
        # Used again at once (well inside the idle window): the caller gets a live connection.
        assert _backend_pid(engine) != victim
    finally:
        engine.dispose()


def test_a_connection_idle_past_the_window_is_pinged(
    pg_sqlalchemy_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(pg_sqlalchemy_url, pool_size=1, max_overflow=0)
    try:
        _backend_pid(engine)
        monkeypatch.setattr(liveness, "IDLE_PING_S", 0.0)
        _backend_pid(engine)
        assert _pings(engine) == 1
    finally:
        engine.dispose()
