"""The digest's lifecycle figures: filed, duplicates caught, median time to close, and how often
the recommended fix was the one recorded on closing; from the real repository (SQLite)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from adapters.sql.lifecycle import NewNotification
from adapters.sql.migrate import upgrade
from adapters.sql.repository import Repository, utcnow
from evaluation.digest import Digest, lifecycle_lines, slack_blocks, teams_card
from evaluation.lifecycle_stats import lifecycle_stats, same_fix
from evaluation.runner import build_digest


def test_same_fix_tolerates_wording_not_other_fixes() -> None:
    assert same_fix("메카니컬 씰 교체", "메카니컬씰 교체함")
    assert same_fix("Replaced mechanical seal", "replaced the mechanical seal")
    assert not same_fix("메카니컬 씰 교체", "베어링 교체 및 정렬")
    assert not same_fix("", "anything")


def _file(repo: Repository, fix: str, answer: str) -> str:
    new = NewNotification(
        "F1",
        "PMP",
        "LEAK",
        "1",
        "펌프 누유",
        "",
        "teams",
        "aad",
        answer_id=answer,
        recommended_itemno="T1",
        recommended_fix=fix,
    )
    return repo.file_new(new, outbox=False).itemno


def test_figures_from_the_repository_and_their_rendering(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pmark.db'}"
    upgrade(url)
    repo = Repository.from_url(url)
    a = _file(repo, "메카니컬 씰 교체", "a")
    b = _file(repo, "베어링 교체", "b")
    _file(repo, "씰 교체", "c")  # still open
    repo.append_report(a, "same again", "aad-2", outbox=False)
    repo.append_report(a, "and again", "aad-3", outbox=False)
    repo.close_notification(a, "메카니컬 씰 교체 완료", "sup", outbox=False)
    repo.close_notification(b, "커플링 정렬", "sup", outbox=False)
    stats = lifecycle_stats(repo, utcnow() - timedelta(days=7))
    assert stats["filed"] == 3 and stats["duplicates_caught"] == 2 and stats["closed"] == 2
    assert stats["fix_judged"] == 2 and stats["fix_matched"] == 1 and stats["fix_match_rate"] == 0.5
    assert stats["median_hours_to_close"] is not None and stats["median_hours_to_close"] >= 0
    assert lifecycle_stats(repo, utcnow() + timedelta(minutes=1))["filed"] == 0

    digest = build_digest(repo, language="en")
    assert digest.lifecycle["filed"] == 3
    lines = dict(lifecycle_lines(digest))
    assert lines["Filed"] == "3" and lines["Duplicates caught"] == "2"
    assert lines["Recommended fix = recorded fix"].startswith("50")
    card = json.dumps(teams_card(digest), ensure_ascii=False)
    assert "Notifications (7 days)" in card and "Median time to close" in card
    assert "Duplicates caught" in json.dumps(slack_blocks(digest))
    ko = Digest(latest={}, language="ko", lifecycle=stats)
    assert "중복 방지" in json.dumps(teams_card(ko), ensure_ascii=False)
    assert lifecycle_lines(Digest(latest={}, lifecycle={"filed": 0, "closed": 0})) == []
    repo.close()
