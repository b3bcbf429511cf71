"""A fitted history saved in the data dir and read back by the next worker or restart."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adapters.settings import Settings
from adapters.sql.corrections import FieldCorrection
from agent.context import PMark
from agent.parsing import service
from agent.parsing.history import HistoryModel
from agent.parsing.history_store import HistoryStore
from agent.parsing.service import learn_history
from tests.sample_data import write_catalog, write_history

TEXTS = [
    "부산공장 압축기 진동 발생",
    "feed water pump leakage at Seoul Plant",
    "motor overheating",
    "컨베이어 소음",
]
HEADER = "itemno,created_at,location,equipment,failure_mode,priority,title,details,resolution\n"


@pytest.fixture
def ctx(tmp_path: Path) -> PMark:
    pm = PMark(Settings(data_dir=tmp_path / "data", _env_file=None))  # type: ignore[call-arg]
    pm.import_catalog(write_catalog(tmp_path / "catalog.csv"))
    pm.import_notifications(write_history(tmp_path / "history.csv", n=60))
    return pm


def _snapshots(ctx: PMark) -> list[Path]:
    return sorted((ctx.settings.data_dir / "history").glob("history-*.npz"))


def _learning_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Calls of HistoryModel.add from here on (one per batch a learner reads)."""
    calls: list[int] = []
    add = HistoryModel.add

    def counted(self: HistoryModel, examples: object) -> int:
        calls.append(1)
        return add(self, examples)  # type: ignore[arg-type]

    monkeypatch.setattr(HistoryModel, "add", counted)
    return calls


def test_the_next_worker_reads_what_the_first_learned(
    ctx: PMark, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = learn_history(ctx)
    assert len(_snapshots(ctx)) == 1
    calls = _learning_counted(monkeypatch)
    second = learn_history(ctx)
    assert calls == [], "the history was learned again instead of read"
    assert second.examples == first.examples == 60
    for text in TEXTS:
        assert second.evidence(text) == first.evidence(text), text
    assert list(second.samples) == list(first.samples)


def test_a_changed_history_is_learned_again(ctx: PMark, tmp_path: Path) -> None:
    before = learn_history(ctx)
    assert "failure_mode" not in before.evidence("zorbled")
    extra = tmp_path / "more.csv"
    extra.write_text(
        HEADER
        + "".join(
            f"Z{i},2024-07-0{i},BUS,CNV,NOS,3,conveyor zorbled again,,roller swapped\n"
            for i in range(1, 6)
        ),
        encoding="utf-8",
    )
    ctx.import_notifications(extra)
    after = learn_history(ctx)
    assert after.examples == before.examples + 5
    assert after.evidence("zorbled")["failure_mode"].code == "NOS"
    assert len(_snapshots(ctx)) == 1, "the stale snapshot is kept beside the new one"


def test_a_correction_made_since_is_learned(ctx: PMark) -> None:
    learn_history(ctx)
    ctx.corrections.add(FieldCorrection("sup-1", "equipment", "그 기계 또 멈춤", "PMP", "CNV"))
    after = learn_history(ctx)
    assert after.recall("그 기계 또 멈춤", "equipment") == "CNV"
    assert len(after.taught) == 1


def test_an_unreadable_snapshot_is_learned_again_and_replaced(
    ctx: PMark, caplog: pytest.LogCaptureFixture
) -> None:
    first = learn_history(ctx)
    (path,) = _snapshots(ctx)
    path.write_bytes(b"PK\x03\x04 not a zip at all")
    again = learn_history(ctx)
    assert "unreadable" in caplog.text
    for text in TEXTS:
        assert again.evidence(text) == first.evidence(text), text
    key = path.name.removeprefix("history-").removesuffix(".npz")
    assert HistoryStore(path.parent).load(key, None) is not None


def test_workers_starting_together_learn_the_history_once(
    ctx: PMark, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _learning_counted(monkeypatch)
    learned: list[HistoryModel] = []
    workers = [threading.Thread(target=lambda: learned.append(learn_history(ctx))) for _ in "ab"]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(learned) == 2
    # 60 notifications are one batch: one learner read them, the other waited and read its
    # snapshot.
    assert len(calls) == 1
    fresh = learn_history(ctx)
    assert len(calls) == 1
    for text in TEXTS:
        assert learned[0].evidence(text) == learned[1].evidence(text) == fresh.evidence(text)


def test_a_large_history_is_learned_by_a_child_and_read_back(
    ctx: PMark, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "CHILD_LEARNS_FROM", 10)  # 60 notifications count as large
    calls = _learning_counted(monkeypatch)
    learned = learn_history(ctx)
    assert calls == [], "the serving process learned the history itself"
    assert learned.examples == 60 and len(_snapshots(ctx)) == 1
    for path in _snapshots(ctx):
        path.unlink()
    here = learn_history(ctx, child=False)
    assert len(calls) == 1
    for text in TEXTS:
        assert learned.evidence(text) == here.evidence(text), text


def test_a_failed_child_leaves_the_learning_to_the_process(
    ctx: PMark, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(service, "CHILD_LEARNS_FROM", 10)
    # A setting the child cannot read (the parent read its own before): it exits non-zero.
    monkeypatch.setenv("PMARK_DB_POOL_SIZE", "not a number")
    learned = learn_history(ctx)
    assert "child process failed" in caplog.text
    assert learned.examples == 60
    assert "failure_mode" in learned.evidence("컨베이어 소음")
