"""Is a pooled PostgreSQL connection still alive? Asked without a round trip when it can be.

SQLAlchemy's `pool_pre_ping` sends `SELECT 1` at every checkout: a round trip and a backend
wake-up before each of the ~8 statements a turn runs, while the connection was in use a few
milliseconds earlier. Two ways a pooled connection dies, and how each is seen here:

- the server ends it (pg_terminate_backend, a restart, a failover): PostgreSQL sends an error
  and closes the socket, so the socket has input waiting while it sits in the pool. A
  zero-timeout poll sees that without a round trip, and then the ping runs (and fails);
- something between drops it silently (a NAT or load balancer's idle timeout, as Azure's and
  managed PostgreSQL's have): nothing arrives, so a connection idle for longer than
  `IDLE_PING_S` is pinged as before.

A failed ping invalidates the pool, as SQLAlchemy's pre-ping does (what ended one connection
usually ended them all), and the checkout is retried on a fresh connection: the caller never
sees the dead one. Drivers without a socket to
poll (pyodbc) keep SQLAlchemy's own pre-ping.
"""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import InvalidatePoolError

# Idle NAT and load-balancer timeouts are minutes (Azure: 4); a connection idle for less than
# this is not pinged unless the server has said something.
IDLE_PING_S = 30.0
_IDLE_SINCE = "pmark_idle_since"
PINGS = "pmark_pings"  # per connection: how many checkout pings it needed (tests read it)


def install(engine: Engine) -> None:
    """Check connections at checkout as described above (PostgreSQL engines)."""
    dialect = engine.dialect

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None:
            return  # connected just now
        if time.monotonic() - since < IDLE_PING_S and not _has_input(dbapi_connection):
            return
        record.info[PINGS] = record.info.get(PINGS, 0) + 1
        try:
            # The dialect's own ping: it keeps psycopg out of a transaction while it asks.
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise InvalidatePoolError(f"pooled connection is gone: {exc}") from exc

    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "checkout", checkout)


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_IDLE_SINCE] = time.monotonic()


def _has_input(dbapi_connection: Any) -> bool:
    """Whether the server sent anything (an error, EOF) to a connection nobody is using."""
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # closed or broken: only a ping can tell
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
