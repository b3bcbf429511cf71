"""The CMMS outbox against a receiver on loopback: every event delivered exactly once (by its
idempotency key) across 503s, timeouts and a PMark process killed mid-delivery."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.cmms.outbox import OutboxWorker, make_target
from adapters.cmms.sap import SapTarget
from adapters.cmms.webhook import WebhookTarget
from adapters.settings import Settings
from adapters.sql.migrate import upgrade
from adapters.sql.repository import Repository
from agent.lifecycle import Lifecycle
from tests.cmms.receiver import SECRET, Receiver

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    upgrade(db_url)
    r = Repository.from_url(db_url)
    yield r
    r.close()


def _settings(tmp_path: Path, target: str, url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        cmms_target=target,
        cmms_url=url,
        cmms_secret=SecretStr(SECRET),
        cmms_user="PMARK_RFC",
        cmms_timeout=0.5,
    )


def _draft(
    answer: str, text: str = "1공장 펌프 누유 긴급", tag: str | None = None
) -> dict[str, Any]:
    def code(c: str) -> dict[str, Any]:
        return {"code": c, "name_ko": c, "name_en": c, "confidence": 0.9}

    return {
        "kind": "answer",
        "answer_id": answer,
        "thread": f"teams:conv:{answer}",
        "lang": "ko",
        "query": text,
        "notification": {
            "location": code("F1"),
            "equipment": code("PMP"),
            "failure_mode": code("LEAK"),
            "priority": code("1"),
            "activity": None,
            "equipment_tag": tag,
        },
        "recommendations": [{"itemno": "T1", "resolution": "메카니컬 씰 교체", "score": 0.9}],
    }


async def _drain(worker: OutboxWorker, repo: Repository, passes: int = 200) -> None:
    for _ in range(passes):
        await worker.run_once()
        if not repo.pending_outbox():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox not drained: {repo.pending_outbox()}")


async def test_webhook_each_event_once_across_503s_and_timeouts(
    repo: Repository, receiver: Receiver, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, "webhook", receiver.base + "/hook")
    life = Lifecycle(repo, settings)
    first = life.file(_draft("a1"), "teams", "aad-a")
    assert first.number is not None
    dup = life.file(_draft("a2"), "slack", "U2")
    assert dup.number is None and [d.number for d in dup.duplicates] == [first.number]
    assert life.add_to(first.number, _draft("a2"), "slack", "U2") is not None
    second = life.file(_draft("a3", "1공장 펌프 누유 다른 곳"), "slack", "U3", force=True)
    life.close(first.number, "메카니컬 씰 교체", "sup")
    keys = {e.event_key: e for e in repo.outbox_events()}
    assert [e.event for e in repo.outbox_events(first.number)] == ["filed", "updated", "closed"]

    receiver.slow_seconds = 1.5  # longer than PMark's 0.5 s timeout
    receiver.plan.extend(["503", "slow", "503", "ok", "slow", "503"])
    target = make_target(settings)
    assert isinstance(target, WebhookTarget)
    worker = OutboxWorker(repo, target, base_backoff=0.05, max_backoff=0.2, lease_seconds=5)
    try:
        await _drain(worker, repo)
    finally:
        await worker.aclose()

    assert receiver.problems == []
    assert set(receiver.applied) == set(keys)  # each event applied, none lost
    assert len(receiver.received) > len(keys)  # …after retries
    delivered = repo.outbox_events()
    assert all(e.delivered_at is not None for e in delivered)
    assert max(e.attempts for e in delivered) > 1
    # One notification's events arrive in the order they happened.
    order = [
        receiver.applied[k]["event"] for k in receiver.applied if keys[k].itemno == first.number
    ]
    assert order == ["filed", "updated", "closed"]
    closed = next(b for b in receiver.applied.values() if b["event"] == "closed")
    assert closed["notification"]["resolution"] == "메카니컬 씰 교체"
    assert closed["notification"]["reports"] == 2
    assert second.number in {b["number"] for b in receiver.applied.values()}


async def test_sap_payload_mapping_and_completion(
    repo: Repository, receiver: Receiver, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, "sap", receiver.base + "/sap")
    life = Lifecycle(repo, settings)
    filed = life.file(_draft("s1", tag="P-101A"), "teams", "aad-a")
    assert filed.number is not None
    life.close(filed.number, "메카니컬 씰 교체", "sup")
    receiver.plan.extend(["503"])
    target = make_target(settings)
    assert isinstance(target, SapTarget)
    worker = OutboxWorker(repo, target, base_backoff=0.05, max_backoff=0.2, lease_seconds=5)
    try:
        await _drain(worker, repo)
    finally:
        await worker.aclose()
    assert receiver.problems == []
    [(sap_number, body)] = receiver.sap.items()
    assert body["TechnicalObject"] == "P-101A" and body["TechObjIsEquipOrFuncnlLoc"] == "EAMS_EQUI"
    assert body["MaintPriority"] == "1"
    assert body["to_Item"][0]["MaintNotificationDamageCode"] == "LEAK"
    assert body["to_Item"][0]["MaintNotifObjPrtCode"] == "PMP"
    assert "메카니컬 씰 교체" in body["MaintNotifLongTextForEdit"]  # the closing's change
    assert receiver.completed == [sap_number]
    assert repo.outbox_remote_id(filed.number) == sap_number


def _spawn(tmp_path: Path, db: str, url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PMARK_DATABASE_URL": db,
        "PMARK_DATA_DIR": str(tmp_path / "data"),
        "PMARK_CMMS_TARGET": "webhook",
        "PMARK_CMMS_URL": url,
        "PMARK_CMMS_SECRET": SECRET,
        "PMARK_CMMS_TIMEOUT": "1",
        "PMARK_CMMS_POLL_SECONDS": "0.2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "cmms", "deliver"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_pmark_killed_mid_delivery_delivers_once_after_restart(
    receiver: Receiver, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'pmark.db'}"
    upgrade(db)
    repo = Repository.from_url(db)
    life = Lifecycle(repo, _settings(tmp_path, "webhook", receiver.base + "/hook"))
    filed = life.file(_draft("k1"), "teams", "aad-a")
    assert filed.number is not None
    life.close(filed.number, "씰 교체", "sup")
    receiver.plan.append("hang")  # the first delivery is taken, and its answer never comes
    first = _spawn(tmp_path, db, receiver.base + "/hook")
    try:
        await asyncio.wait_for(receiver.hung.wait(), 60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert len(repo.pending_outbox()) == 2  # nothing was marked delivered
        second = _spawn(tmp_path, db, receiver.base + "/hook")
        try:
            deadline = time.monotonic() + 60
            while repo.pending_outbox():
                assert time.monotonic() < deadline, "not delivered after the restart"
                await asyncio.sleep(0.2)
        finally:
            second.terminate()
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        repo.close()
    keys = [e.event_key for e in repo.outbox_events()]
    assert set(receiver.applied) == set(keys) and len(keys) == 2
    # The hung event was sent again after the restart and applied only once.
    sent = [r["key"] for r in receiver.received]
    assert sent.count(keys[0]) == 2 and sent.count(keys[1]) == 1
    assert receiver.problems == []
