"""Repository contract, run on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from adapters.domain import CatalogEntry, Notification
from adapters.sql.migrate import upgrade
from adapters.sql.repository import FeedbackRecord, NormalizationDecision, Repository


@pytest.fixture
def repo(db_url: str) -> Repository:
    upgrade(db_url)
    r = Repository.from_url(db_url)
    yield r
    r.close()


def _catalog() -> list[CatalogEntry]:
    return [
        CatalogEntry("location", "L1", "1공장", "Plant 1", ("plant1",)),
        CatalogEntry("location", "L1-A", "1공장 A동", "Plant 1 Bldg A", (), "L1"),
        CatalogEntry("equipment", "PU", "펌프", "pump", ("pmp",)),
    ]


def _note(itemno: str, title: str = "펌프 누유", resolution: str = "씰 교체") -> Notification:
    return Notification(
        itemno, datetime(2024, 1, 2, 3, 4), "L1", "PU", "ELP", "1", title, "", resolution
    )


def test_catalog_upsert_is_idempotent_and_replace_replaces(repo: Repository) -> None:
    first = repo.upsert_catalog(_catalog())
    assert (first.inserted, first.updated) == (3, 0)
    again = repo.upsert_catalog(_catalog())
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    changed = [*_catalog()[:2], CatalogEntry("equipment", "PU", "펌프", "pump", ("pmp", "펌프류"))]
    assert repo.upsert_catalog(changed).updated == 1
    assert {e.code: e for e in repo.catalog()}["PU"].synonyms == ("pmp", "펌프류")
    repo.upsert_catalog([CatalogEntry("priority", "1", "긴급", "emergency")], replace=True)
    assert [e.code for e in repo.catalog()] == ["1"]


def test_catalog_round_trips_parent_and_synonyms(repo: Repository) -> None:
    repo.upsert_catalog(_catalog())
    by_code = {e.code: e for e in repo.catalog()}
    assert by_code["L1-A"].parent == "L1"
    assert by_code["L1"].synonyms == ("plant1",)


def test_notifications_import_twice_changes_nothing(repo: Repository) -> None:
    items = [_note(f"N{i:05d}") for i in range(1200)]
    assert repo.upsert_notifications(items).inserted == 1200
    again = repo.upsert_notifications(items)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1200)
    assert repo.notification_count() == 1200
    edited = [_note("N00005", resolution="베어링 교체")]
    assert repo.upsert_notifications(edited).updated == 1
    assert repo.notifications(["N00005"])["N00005"].resolution == "베어링 교체"
    batches = list(repo.iter_notifications(batch=500))
    assert [len(b) for b in batches] == [500, 500, 200]
    repo.upsert_notifications([_note("X1")], replace=True)
    assert repo.notification_count() == 1


def test_sql_fragments_are_stored_verbatim(repo: Repository) -> None:
    title = "'; DROP TABLE notifications; -- 펌프"
    repo.upsert_notifications([_note("N1", title=title)])
    assert repo.notifications(["N1"])["N1"].title == title
    assert repo.notification_count() == 1


def test_feedback_is_stored_once_and_vote_can_change(repo: Repository) -> None:
    fb = FeedbackRecord("ans-1", "N1", "u1", "teams", 1, True, "펌프 누유", "PU", "ELP")
    assert repo.record_feedback(fb) is True
    assert repo.record_feedback(fb) is False
    assert repo.feedback_count() == 1
    down = FeedbackRecord("ans-1", "N1", "u1", "teams", -1, True, "펌프 누유", "PU", "ELP")
    assert repo.record_feedback(down) is True
    assert repo.feedback_count() == 1
    assert repo.supervisor_votes() == {("PU", "ELP", "N1"): -1}
    repo.record_feedback(FeedbackRecord("ans-1", "N1", "u2", "teams", 1, False))
    assert repo.supervisor_votes() == {("PU", "ELP", "N1"): -1}


def test_runs_conversation_refs_log_and_events(repo: Repository) -> None:
    run = repo.start_run("0.1.0", {"k": 5})
    repo.finish_run(run, {"p@5": 0.5}, {"queries": []})
    failed = repo.start_run("0.1.0", {})
    repo.fail_run(failed, "boom")
    runs = repo.runs()
    assert [r["status"] for r in runs] == ["failed", "ok"]
    assert runs[1]["metrics"] == {"p@5": 0.5}
    repo.save_conversation_ref("teams", "c1", {"serviceUrl": "http://x"})
    repo.save_conversation_ref("teams", "c1", {"serviceUrl": "http://y"})
    assert repo.conversation_refs("teams") == [
        {"channel": "teams", "conversation_id": "c1", "reference": {"serviceUrl": "http://y"}}
    ]
    repo.log_normalizations([NormalizationDecision("equipment", "콤프레샤", "CO", 0.91, "vector")])
    assert repo.normalization_log()[0].code == "CO"
    assert repo.claim_event("teams:abc") is True
    assert repo.claim_event("teams:abc") is False


def test_next_itemno_increments(repo: Repository) -> None:
    first = repo.next_itemno()
    repo.upsert_notifications([_note(first)])
    assert repo.next_itemno() > first
