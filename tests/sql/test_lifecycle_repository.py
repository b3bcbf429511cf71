"""Lifecycle contract of the repository (file, duplicates, add, close, outbox), on SQLite and on
the real PostgreSQL; the migration on a database that already has some of its columns."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.dialects import mssql, postgresql, sqlite
from sqlalchemy.sql import ClauseElement

from adapters.domain import Notification
from adapters.sql import lifecycle_queries
from adapters.sql.lifecycle import NewNotification
from adapters.sql.migrate import alembic_config, upgrade
from adapters.sql.repository import Repository, utcnow


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    upgrade(db_url)
    r = Repository.from_url(db_url)
    yield r
    r.close()


def _new(**kw: object) -> NewNotification:
    values: dict[str, object] = {
        "location": "L1",
        "equipment": "PU",
        "failure_mode": "ELP",
        "priority": "2",
        "title": "1공장 펌프 누유",
        "details": "1공장 펌프 누유",
        "source": "teams",
        "filed_by": "aad-a",
        "thread_id": "teams:c1:m1",
        "answer_id": "ans-1",
        "recommended_itemno": "H1",
        "recommended_fix": "메카니컬 씰 교체",
    }
    values.update(kw)
    return NewNotification(**values)  # type: ignore[arg-type]


def test_filing_numbers_opens_and_writes_an_outbox_event(repo: Repository) -> None:
    first = repo.file_new(_new())
    second = repo.file_new(_new(answer_id="ans-2"))
    assert first.itemno != second.itemno and second.itemno > first.itemno
    assert first.status == "open" and first.source == "teams" and first.filed_by == "aad-a"
    assert first.filed_at is not None and first.closed_at is None
    events = repo.outbox_events(first.itemno)
    assert [e.event for e in events] == ["filed"]
    assert events[0].payload["itemno"] == first.itemno and events[0].payload["status"] == "open"
    assert repo.filed_for_answer("ans-2").itemno == second.itemno  # type: ignore[union-attr]
    # Without a CMMS target nothing is queued.
    quiet = repo.file_new(_new(answer_id="ans-3"), outbox=False)
    assert repo.outbox_events(quiet.itemno) == []


def test_imports_keep_working_and_count_as_closed_history(repo: Repository) -> None:
    old = Notification("T1", datetime(2024, 1, 2), "L1", "PU", "ELP", "1", "펌프 누유", "", "씰")
    counts = repo.upsert_notifications([old])
    assert counts.inserted == 1
    record = repo.lifecycle_record("T1")
    assert record is not None and record.status == "closed" and record.source == "import"
    again = repo.upsert_notifications([old])
    assert again.unchanged == 1
    assert repo.open_duplicates("PU", "L1", None, datetime(2000, 1, 1)) == []


def test_duplicates_by_tag_else_equipment_and_location(repo: Repository) -> None:
    since = utcnow() - timedelta(days=7)
    tagged = repo.file_new(_new(equipment_tag="P-101A", answer_id="a1"))
    plain = repo.file_new(_new(location="L2", answer_id="a2"))
    assert [d.itemno for d in repo.open_duplicates("PU", "L9", "p-101a", since)] == [tagged.itemno]
    assert repo.open_duplicates("PU", "L1", "P-999", since) == []
    assert [d.itemno for d in repo.open_duplicates("PU", "L2", None, since)] == [plain.itemno]
    assert repo.open_duplicates("PU", "L3", None, since) == []
    assert repo.open_duplicates("MTR", "L2", None, since) == []
    # Outside the window, or closed: no longer a duplicate.
    assert repo.open_duplicates("PU", "L2", None, utcnow() + timedelta(seconds=5)) == []
    repo.close_notification(plain.itemno, "씰 교체", "sup")
    assert repo.open_duplicates("PU", "L2", None, since) == []


def test_add_start_close_and_list(repo: Repository) -> None:
    record = repo.file_new(_new())
    added = repo.append_report(record.itemno, "또 샘", "aad-b")
    assert added is not None and added.reports == 2 and "aad-b: 또 샘" in added.details
    started = repo.set_in_progress(record.itemno)
    assert started is not None and started.status == "in_progress"
    assert repo.open_in_thread("teams:c1:m1").itemno == record.itemno  # type: ignore[union-attr]
    closed, did = repo.close_notification(record.itemno, " 메카니컬 씰 교체 ", "sup")
    assert did and closed is not None and closed.status == "closed"
    assert closed.resolution == "메카니컬 씰 교체" and closed.closed_by == "sup"
    assert closed.closed_at is not None
    again, did_again = repo.close_notification(record.itemno, "other", "sup")
    assert not did_again and again is not None and again.resolution == "메카니컬 씰 교체"
    assert repo.append_report(record.itemno, "late", "x") is None
    assert repo.close_notification("NOPE", "x", "y") == (None, False)
    assert [e.event for e in repo.outbox_events(record.itemno)] == [
        "filed",
        "updated",
        "updated",
        "closed",
    ]
    assert repo.outbox_events(record.itemno)[-1].payload["resolution"] == "메카니컬 씰 교체"
    other = repo.file_new(_new(answer_id="x2"))
    assert [r.itemno for r in repo.list_notifications("open")] == [other.itemno]
    assert record.itemno in [r.itemno for r in repo.list_notifications("closed")]
    assert len(repo.filed_since(utcnow() - timedelta(hours=1))) == 2
    assert [r.itemno for r in repo.closed_since(utcnow() - timedelta(hours=1))] == [record.itemno]


def test_outbox_lease_deliver_and_fail(repo: Repository) -> None:
    record = repo.file_new(_new())
    event = repo.pending_outbox()[0]
    now = utcnow()
    assert repo.lease_outbox(event.id, now, now + timedelta(seconds=30))
    assert not repo.lease_outbox(event.id, now, now + timedelta(seconds=30))  # held
    later = now + timedelta(seconds=31)
    assert repo.lease_outbox(event.id, later, later + timedelta(seconds=30))  # lease expired
    repo.outbox_failed(event.id, 1, "HTTP 503", later + timedelta(seconds=2))
    failed = repo.pending_outbox()[0]
    assert failed.attempts == 1 and failed.last_error == "HTTP 503" and failed.leased_until is None
    repo.outbox_delivered(event.id, 2, "10000042")
    assert repo.pending_outbox() == []
    assert repo.outbox_remote_id(record.itemno) == "10000042"
    assert not repo.lease_outbox(event.id, later, later)  # delivered: never again


BUILDERS = [
    fn
    for _, fn in inspect.getmembers(lifecycle_queries, inspect.isfunction)
    if fn.__module__ == lifecycle_queries.__name__
]
ARGS = {
    "itemno": "N1",
    "status": "open",
    "limit": 5,
    "equipment": "PU",
    "location": "L1",
    "tag": None,
    "since": datetime(2024, 1, 1),
    "thread_id": "t",
    "answer_id": "a",
    "values": {"status": "closed"},
    "row_id": 1,
    "now": datetime(2024, 1, 1),
    "until": datetime(2024, 1, 1),
}


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "dialect",
    [mssql.dialect(), postgresql.dialect(), sqlite.dialect()],
    ids=["mssql", "postgresql", "sqlite"],
)
def test_every_lifecycle_statement_compiles(builder: object, dialect: object) -> None:
    params = inspect.signature(builder).parameters  # type: ignore[arg-type]
    args = {p: ARGS[p] for p in params}
    if builder.__name__ == "finish_outbox":  # type: ignore[attr-defined]
        args["values"] = {"attempts": 1}
    stmt = builder(**args)  # type: ignore[operator]
    assert isinstance(stmt, ClauseElement)
    assert str(stmt.compile(dialect=dialect)).strip()  # type: ignore[arg-type]


def test_migration_keeps_columns_another_change_added(db_url: str) -> None:
    cfg = alembic_config(db_url)
    command.upgrade(cfg, "0002")
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE notifications ADD COLUMN filed_by VARCHAR(128)"))
        conn.execute(
            sa.text(
                "INSERT INTO notifications (itemno, created_at, title, details, resolution, "
                "source, filed_by) VALUES ('OLD1', '2024-01-01 00:00:00', 't', '', 'r', "
                "'import', 'someone')"
            )
        )
    command.upgrade(cfg, "head")
    repo = Repository(engine)
    record = repo.lifecycle_record("OLD1")
    assert record is not None and record.status == "closed" and record.filed_by == "someone"
    command.downgrade(cfg, "0002")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("notifications")}
    assert "status" not in columns and "cmms_outbox" not in sa.inspect(engine).get_table_names()
    engine.dispose()
