"""Azure SQL (mssql+pyodbc) cannot run here: every statement is compiled for it instead."""

from __future__ import annotations

import inspect
from datetime import datetime

import pytest
from sqlalchemy.dialects import mssql, postgresql, sqlite
from sqlalchemy.sql import ClauseElement

from adapters.sql import queries
from adapters.sql.engine import engine_kwargs, make_engine

SAMPLE_ARGS = {
    "row_id": 1,
    "values": {"title": "t"},
    "itemnos": ["a", "b"],
    "after": "",
    "limit": 10,
    "itemno": "N1",
    "prefix": "PM",
    "answer_id": "a",
    "user_id": "u",
    "vote": 1,
    "comment": "",
    "since": datetime(2024, 1, 1),
    "run_id": 1,
    "channel": "teams",
    "conversation_id": "c",
    "reference": {},
    "now": datetime(2024, 1, 1),
    "cutoff": datetime(2024, 1, 1),
    "thread_id": "t1",
    "thread_ids": ["t1"],
    "row": {"answer_id": "a", "itemno": "N1", "user_id": "u", "vote": 1, "comment": ""},
}

UPDATE_VALUES = {
    "update_catalog_row": {"name_en": "pump"},
    "update_notification": {"title": "t"},
    "update_run": {"status": "ok"},
}

BUILDERS = [
    fn
    for name, fn in inspect.getmembers(queries, inspect.isfunction)
    if fn.__module__ == queries.__name__ and not name.startswith("_")  # builders, not helpers
]


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "dialect",
    [mssql.dialect(), postgresql.dialect(), sqlite.dialect()],
    ids=["mssql", "postgresql", "sqlite"],
)
def test_every_statement_compiles(builder: object, dialect: object) -> None:
    params = inspect.signature(builder).parameters  # type: ignore[arg-type]
    args = {p: dialect.name if p == "dialect" else SAMPLE_ARGS[p] for p in params}  # type: ignore[attr-defined]
    if "values" in args:
        args["values"] = UPDATE_VALUES[builder.__name__]  # type: ignore[attr-defined]
    stmt = builder(**args)  # type: ignore[operator]
    if stmt is None:  # a dialect-specific statement the caller replaces with portable ones
        assert "dialect" in args and args["dialect"] == "mssql"
        return
    assert isinstance(stmt, ClauseElement)
    sql = str(stmt.compile(dialect=dialect))  # type: ignore[arg-type]
    assert sql.strip()


def test_mssql_top_instead_of_limit() -> None:
    sql = str(queries.select_runs(5).compile(dialect=mssql.dialect()))
    assert "TOP" in sql and "LIMIT" not in sql


def test_azure_sql_engine_uses_fast_executemany_pre_ping_and_recycle() -> None:
    url = "mssql+pyodbc://u:p@example.database.windows.net:1433/db?driver=ODBC+Driver+18+for+SQL+Server"
    kwargs = engine_kwargs(url, pool_size=7, recycle=900)
    assert kwargs["fast_executemany"] is True
    assert kwargs["pool_pre_ping"] is True
    assert kwargs["pool_recycle"] == 900
    assert kwargs["pool_size"] == 7
    engine = make_engine(url, pool_size=7, recycle=900)
    assert engine.dialect.name == "mssql"
    assert engine.dialect.fast_executemany is True  # type: ignore[attr-defined]
    assert engine.pool._pre_ping is True  # type: ignore[attr-defined]
    assert engine.pool._recycle == 900  # type: ignore[attr-defined]
    assert engine.pool.size() == 7  # type: ignore[attr-defined]


def test_postgres_engine_checks_liveness_at_checkout_and_recycles() -> None:
    engine = make_engine("postgresql+psycopg://u:p@127.0.0.1/db", pool_size=3, recycle=600)
    # The pool's own ping is replaced by adapters/sql/liveness.py's checkout check
    # (tests/sql/test_liveness.py runs it against the real server).
    assert engine.pool._pre_ping is False  # type: ignore[attr-defined]
    assert len(engine.pool.dispatch.checkout) == 1
    assert engine.pool._recycle == 600  # type: ignore[attr-defined]
