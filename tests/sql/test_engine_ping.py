"""Pooled connections are tested after idling, not on every checkout."""

from __future__ import annotations

import psycopg
from sqlalchemy import create_engine, text

from adapters.sql.engine import make_engine, ping_when_idle


def _engine(url: str, after: float) -> object:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1)
    ping_when_idle(engine, after=after)
    return engine


def _pid(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("select pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    pid = _pid(engine)
    calls: list[object] = []
    real = engine.dialect.do_ping
    engine.dialect.do_ping = lambda c: calls.append(c) or real(c)  # type: ignore[method-assign]
    assert _pid(engine) == pid and _pid(engine) == pid
    assert calls == []


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(postgres_url: str) -> None:
    engine = _engine(postgres_url, after=0.0)  # every reuse counts as idle here
    old = _pid(engine)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", (old,))
    new = _pid(engine)  # the ping failed, the pool opened a fresh connection: no error
    assert new != old
    assert _pid(engine) == new  # and that one is kept
