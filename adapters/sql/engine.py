"""Engine construction with the pool settings each database needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

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
        # Azure SQL and managed PostgreSQL drop idle connections: test and recycle them.
        "pool_pre_ping": True,
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
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the server read while an import writes; busy_timeout avoids spurious "locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
