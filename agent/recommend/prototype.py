"""The seed prototype's SQL scoring, kept only as a named baseline for comparisons."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from adapters.domain import Notification


def prototype_scores(
    notifications: Iterable[Notification],
    location: str | None,
    equipment: str | None,
    priority: str | None,
    k: int,
) -> list[str]:
    """Top-k itemnos by the prototype's points: location 35, equipment 35, status 20, priority 10.

    The prototype matched with SQL `LIKE '%value%'` and counted a notification with a recorded
    resolution as closed ("status"); ties fall back to the newest first, as its ORDER BY did.
    """
    scored: list[tuple[int, float, str]] = []
    for n in notifications:
        points = 0
        if location and n.location and location.lower() in n.location.lower():
            points += 35
        if equipment and n.equipment and equipment.lower() in n.equipment.lower():
            points += 35
        if n.resolution.strip():
            points += 20
        if priority and n.priority == priority:
            points += 10
        scored.append((points, n.created_at.timestamp(), n.itemno))
    scored.sort(key=lambda t: (-t[0], -t[1], t[2]))
    return [itemno for _, _, itemno in scored[:k]]


def prototype_for_queries(
    notifications: Sequence[Notification],
    queries: Iterable[tuple[str | None, str | None, str | None]],
    k: int,
) -> list[list[str]]:
    """The prototype's top-k for each (location, equipment, priority) query."""
    return [prototype_scores(notifications, loc, eq, pri, k) for loc, eq, pri in queries]
