"""Engine construction with the pool settings each database needs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

# libpq's connect_timeout (whole seconds, at least 2).
CONNECT_TIMEOUT_S = 2
IDLE_PING_AFTER = 10.0  # seconds a pooled connection may idle before it is tested


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
        # Azure SQL and managed PostgreSQL drop idle connections: recycled, and tested when
        # idle a while (ping_when_idle; not on every checkout, several per turn).
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
    else:
        ping_when_idle(engine)
    return engine


def ping_when_idle(engine: Engine, after: float = IDLE_PING_AFTER) -> None:
    """Test a pooled connection on checkout when it sat unused `after` seconds or more.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip and ~0.1 ms of CPU several
    times a turn, for connections used milliseconds ago. A server that drops idle connections
    drops them after minutes; one that fails meanwhile fails the statement, which the callers'
    outage handling retries. A failed ping makes the pool discard the connection and take
    another (SQLAlchemy's DisconnectionError protocol).
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < after:
            return  # new, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"idle connection failed its ping: {exc!r}") from exc
        if not alive:
            raise DisconnectionError("idle connection failed its ping")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the server read while an import writes; busy_timeout avoids spurious "locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
