"""Shared fixtures: the real servers started by scripts/start_*.sh, and small catalogs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Every log line and subprocess output of the session in one dir, scanned for secrets at the end.
pytest_plugins = ["tests.suite_logs"]


def service_url(var: str, what: str) -> str:
    """The URL of a test server, or skip (fail when the CI command requires every service)."""
    url = os.environ.get(var)
    if url:
        return url
    message = f"{what} not available: {var} is not set (run scripts/start_*.sh or scripts/test.sh)"
    if os.environ.get("PMARK_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """libpq URL of the test PostgreSQL database."""
    return service_url("PMARK_TEST_POSTGRES_URL", "PostgreSQL")


@contextmanager
def fresh_schema(url: str, prefix: str = "t") -> Iterator[str]:
    """A new schema in the PostgreSQL database at libpq `url`, dropped afterwards; yields `url`
    with that schema as its search_path."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'drop schema "{schema}" cascade')


@pytest.fixture
def pg_sqlalchemy_url(postgres_url: str) -> Iterator[str]:
    """A fresh schema in the test PostgreSQL database, as a SQLAlchemy URL, dropped afterwards."""
    with fresh_schema(postgres_url) as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database in a temp dir."""
    return f"sqlite:///{tmp_path / 'pmark.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The application database on each supported engine that runs here."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pmark.db'}"
    return str(request.getfixturevalue("pg_sqlalchemy_url"))
