"""The evaluation digest from stored runs, and its delivery to Teams/Slack.

`build_digest` reads the runs (latest, previous and ~7-days-ago full runs, worst queries, feedback
counts, latency alerts, failed runs); `send_digest` posts it to the configured conversations.
Rendering the digest is evaluation/digest.py's job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from adapters.sql.repository import Repository, utcnow
from evaluation.alerts import live_alerts, run_perf_alerts
from evaluation.digest import (
    Digest,
    Language,
    slack_blocks,
    summary_text,
    teams_attachment,
    teams_card,
)
from evaluation.lifecycle_stats import lifecycle_stats
from evaluation.perf import Alert
from evaluation.runs import full_runs, run_details, run_kind, run_summaries, worst_queries

if TYPE_CHECKING:
    from adapters.channels.base import Channel
    from adapters.settings import Settings
    from agent.context import PMark

log = logging.getLogger(__name__)


def _week_ago(full: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not full:
        return None
    target = full[0]["started_at"] - timedelta(days=7)
    older = [r for r in full[1:] if r["started_at"] <= target + timedelta(hours=12)]
    return min(older, key=lambda r: abs(r["started_at"] - target)) if older else None


def build_digest(
    repo: Repository,
    *,
    language: Language = "both",
    now: datetime | None = None,
    latency: Mapping[str, Mapping[str, float]] | None = None,
) -> Digest:
    """The digest from stored runs: latest, previous and ~7-days-ago full runs, worst queries,
    feedback counts, performance alerts and the runs that failed since the previous full run."""
    runs = run_summaries(repo, limit=500)
    full = full_runs(runs)
    latest = full[0] if full else None
    previous = full[1] if len(full) > 1 else None
    week = _week_ago(full)
    since = previous["started_at"] if previous else None
    feedback = repo.feedback()
    counts = {
        "up": sum(1 for f in feedback if f["vote"] > 0),
        "down": sum(1 for f in feedback if f["vote"] < 0),
        "new_since_last": sum(1 for f in feedback if since is None or f["created_at"] >= since),
    }
    failed_since = since or ((now or utcnow()) - timedelta(days=7))
    failed = [
        {
            "run_id": r["id"],
            "kind": run_kind(r),
            "started_at": r["started_at"].isoformat(timespec="minutes"),
            "error": r.get("error") or "",
        }
        for r in runs
        if r.get("status") == "failed" and r["started_at"] >= failed_since
    ]
    alerts: list[Alert] = run_perf_alerts(runs) + live_alerts(latency or {})
    return Digest(
        latest=dict((latest or {}).get("metrics") or {}),
        previous=dict(previous["metrics"]) if previous else None,
        week_ago=dict(week["metrics"]) if week else None,
        worst_queries=worst_queries(run_details(repo, latest["id"]) if latest else None),
        feedback=counts,
        perf_alerts=alerts,
        failed_runs=failed,
        language=language,
        generated_at=(now or utcnow()).isoformat(timespec="minutes"),
        run_id=str(latest["id"]) if latest else None,
        lifecycle=lifecycle_stats(repo, (now or utcnow()) - timedelta(days=7)),
    )


def digest_payload(digest: Digest) -> dict[str, Any]:
    """{"teams": Adaptive Card, "slack": Block Kit blocks}."""
    return {"teams": teams_card(digest), "slack": slack_blocks(digest)}


def digest_targets(settings: Settings) -> list[tuple[str, str]]:
    """(channel name, conversation id) pairs that receive the digest."""
    return [("teams", c) for c in settings.digest_teams_conversations] + [
        ("slack", c) for c in settings.digest_slack_channels
    ]


async def send_digest(
    ctx: PMark, digest: Digest, channels: Mapping[str, Channel] | None = None
) -> tuple[int, int]:
    """Post the digest to settings.digest_teams_conversations / digest_slack_channels.

    `channels` are the app's channels by name ("teams", "slack"); when None they are built from
    settings (adapters.channels.factory.make_channels) and closed afterwards. A failing target is
    logged and skipped. Returns (posted, targets).
    """
    from adapters.channels.base import Outbound

    targets = digest_targets(ctx.settings)
    if not targets:
        return 0, 0
    own = channels is None
    if channels is None:
        from adapters.channels.factory import make_channels

        channels = make_channels(ctx.settings, ctx.repo)
    text = summary_text(digest)
    messages = {
        "teams": Outbound(text, teams_attachments=[teams_attachment(teams_card(digest))]),
        "slack": Outbound(text, slack_blocks=slack_blocks(digest)),
    }
    posted = 0
    try:
        for name, conversation in targets:
            channel = channels.get(name)
            if channel is None:
                log.error("digest: no %s channel configured for %s", name, conversation)
                continue
            try:
                await channel.post(conversation, messages[name])
                posted += 1
            except Exception:
                log.exception("digest: posting to %s %s failed", name, conversation)
    finally:
        if own:
            for channel in channels.values():
                await channel.aclose()
    return posted, len(targets)
