"""Measure PMARK_WEAK_MATCH_SCORE: the best-case score under which "no similar case" is said.

    .venv/bin/python benchmarks/measure_weak_match.py [--catalog C.csv --history H.csv]

Every past notification's title is asked as a report, as a technician would write it, and ranked
as a turn ranks it (parsed fields, hybrid search, re-ranking; the notification itself left out):

- "similar exists": the best case among those that share its equipment (or a subclass) and its
  failure mode (only titles whose equipment and failure mode have another case);
- "nothing similar": the best case once every case with that equipment-and-failure pair is left
  out, as if the plant had never seen the problem.

It prints both distributions and the threshold that separates them best (balanced accuracy), on
the given plant; run it on your own catalog and history. Without files it uses the generated test
plant of tests/sample_data.py (not the demo data).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from adapters.domain import Notification
from adapters.settings import Settings
from adapters.sql.repository import utcnow
from agent.context import PMark
from agent.recommend.ranking import Query, Recommendation, rank
from agent.recommend.service import Recommender


def _quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    q = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return f"n={len(values)} min={min(values):.3f} p10={q[0]:.3f} p50={q[4]:.3f} p90={q[8]:.3f}"


def _alike(case: Recommendation, n: Notification, ancestors: dict[str, set[str]]) -> bool:
    """Same equipment (or a subclass of it) and same failure mode."""
    eq = case.equipment
    same_eq = eq == n.equipment or (n.equipment or "") in ancestors.get(eq or "", set())
    return same_eq and case.failure_mode == n.failure_mode


def measure(ctx: PMark, limit: int) -> tuple[list[float], list[float]]:
    """Best-case scores with a similar case available, and with none."""
    ctx.ensure_index()
    recommender = Recommender(ctx)
    ancestors = recommender.ancestors
    history = [n for batch in ctx.repo.iter_notifications() for n in batch]
    pairs: dict[tuple[str | None, str | None], int] = {}
    for n in history:
        pairs[(n.equipment, n.failure_mode)] = pairs.get((n.equipment, n.failure_mode), 0) + 1
    similar: list[float] = []
    nothing: list[float] = []
    now = utcnow()
    for n in history[:limit]:
        if not n.equipment or not n.failure_mode:
            continue
        parsed = ctx.parser.parse(n.title)
        query = Query(
            equipment=parsed.code("equipment"),
            failure_mode=parsed.code("failure_mode"),
            location=parsed.code("location"),
            ancestors=ancestors,
        )
        hits = [h for h in recommender.candidates(n.title, parsed) if h.itemno != n.itemno]
        ranked = rank(hits, query, now, {})

        if pairs[(n.equipment, n.failure_mode)] > 1:
            best = [r.score for r in ranked if _alike(r, n, ancestors)]
            if best:
                similar.append(best[0])
        rest = [r.score for r in ranked if not _alike(r, n, ancestors)]
        if rest:
            nothing.append(rest[0])
    return similar, nothing


def best_threshold(similar: list[float], nothing: list[float]) -> tuple[float, float]:
    """The cut with the best balanced accuracy (similar >= cut, nothing < cut)."""
    best = (0.0, 0.0)
    for cut in sorted({round(v, 3) for v in similar + nothing}):
        tpr = sum(v >= cut for v in similar) / max(1, len(similar))
        tnr = sum(v < cut for v in nothing) / max(1, len(nothing))
        accuracy = (tpr + tnr) / 2
        if accuracy > best[1]:
            best = (cut, accuracy)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", type=Path)
    parser.add_argument("--history", type=Path)
    parser.add_argument("--limit", type=int, default=400, help="titles asked at most")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        catalog, history = args.catalog, args.history
        if catalog is None or history is None:
            from tests.sample_data import write_catalog, write_history

            catalog = write_catalog(data / "catalog.csv")
            history = write_history(data / "history.csv")
        ctx = PMark(Settings(data_dir=data / "pmark", database_url=None, weaviate_url=None))
        ctx.import_catalog(catalog, replace=True)
        ctx.import_notifications(history)
        similar, nothing = measure(ctx, args.limit)
        ctx.repo.close()
    cut, accuracy = best_threshold(similar, nothing)
    now = Settings.model_fields["weak_match_score"].default
    print(f"similar case exists : {_quantiles(similar)}")
    print(f"nothing similar     : {_quantiles(nothing)}")
    print(f"best threshold {cut:.3f} (balanced accuracy {accuracy:.3f}); default {now}:")
    print(
        f"  similar said weak {sum(v < now for v in similar)}/{len(similar)}, "
        f"nothing-similar said good {sum(v >= now for v in nothing)}/{len(nothing)}"
    )


if __name__ == "__main__":
    main()
