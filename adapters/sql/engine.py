"""Engine construction with the pool settings each database needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from adapters.sql import liveness

# libpq's connect_timeout (whole seconds, at least 2).
CONNECT_TIMEOUT_S = 2


def engine_kwargs(
    url: str, pool_size: int = 5, max_overflow: int = 10, recycle: int = 1800
) -> dict[str, Any]:
    """Keyword arguments for `create_engine`, chosen by dialect."""
    dialect = make_url(url).get_backend_name()
    if dialect == "sqlite":
        return {}
    kwargs: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        # Azure SQL and managed PostgreSQL drop idle connections: test and recycle them
        # (PostgreSQL: adapters/sql/liveness.py, without a round trip for a busy connection).
        "pool_pre_ping": dialect != "postgresql",
        "pool_recycle": recycle,
    }
    if dialect == "mssql":
        kwargs["fast_executemany"] = True
    if dialect == "postgresql" and "connect_timeout" not in make_url(url).query:
        # A server that does not answer fails a connect in seconds, not at the OS's TCP
        # timeout: the bot then spools the message instead of leaving the user waiting.
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    return kwargs


def make_engine(
    url: str, pool_size: int = 5, max_overflow: int = 10, recycle: int = 1800
) -> Engine:
    """Build the engine for the application database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **engine_kwargs(url, pool_size, max_overflow, recycle))
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if parsed.get_backend_name() == "postgresql":
        liveness.install(engine)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the server read while an import writes; busy_timeout avoids spurious "locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


@contextmanager
def autocommit(engine: Engine) -> Iterator[Connection]:
    """A connection for one statement that is its own transaction (a read, an upsert, an
    UPDATE ... RETURNING): no BEGIN before it and no COMMIT or ROLLBACK after it.

    A plain `engine.begin()` costs PostgreSQL three round trips for a one-statement transaction
    (BEGIN, the statement, COMMIT) and a read through a Session two (BEGIN, ROLLBACK at
    return); these run on every turn, so each saved trip is a saved backend wake-up too.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """An ORM session over an `autocommit` connection: for reads that need no snapshot
    across statements."""
    with autocommit(engine) as connection, Session(bind=connection) as session:
        yield session
