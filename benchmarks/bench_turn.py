"""Conversation turns per second and latency (no LLM) over a large history.

    .venv/bin/python benchmarks/bench_turn.py [--notifications 100000] [--concurrency 1,10,100]
        [--turns 4] [--catalog data/catalog.csv] [--postgres-url "$PMARK_TEST_CHECKPOINT_URL"]

History vectors are random unit vectors (embedding 100k texts with the real model takes longer
than the benchmark itself); query texts are embedded for real, BM25 runs on real tokens. The
baseline in the same run is an empty-message turn, which only validates and checkpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from adapters.domain import Notification
from adapters.settings import Settings
from agent.context import PMark
from agent.service import open_agent

REPO = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 15.0  # issue 16: a non-LLM turn at 100k notifications, PostgreSQL checkpoints
MESSAGES = [
    ["{loc} {eq} {fm} {pri}", "두 번째 건 자세히"],
    ["{eq} {fm}", "{loc} {pri}"],
    ["{eq_en} {fm_en} at {loc_en}, {pri_en}", "show the 1st one"],
]


def synthetic_history(ctx: PMark, n: int, seed: int = 1, vectors: str = "embedded") -> int:
    """n notifications built from the catalog, stored and indexed.

    `vectors="embedded"`: each distinct title embedded by the real embedder, plus a little noise
    per notification standing in for its details (the neighbourhoods real notifications have,
    which an ANN graph follows); `"random"`: random unit vectors (no neighbourhoods at all).
    """
    rnd = random.Random(seed)
    cat = ctx.catalog()
    by = {c: [e for e in cat if e.category == c] for c in ("location", "equipment", "failure_mode")}
    start = datetime(2020, 1, 1)
    items: list[Notification] = []
    for i in range(n):
        loc, eq, fm = (rnd.choice(by[c]) for c in ("location", "equipment", "failure_mode"))
        ko = rnd.random() < 0.5
        title = (
            f"{loc.name_ko} {eq.name_ko} {fm.name_ko}"
            if ko
            else f"{eq.name_en} {fm.name_en} at {loc.name_en}"
        )
        items.append(
            Notification(
                f"B{i:07d}",
                start + timedelta(minutes=37 * i),
                loc.code,
                eq.code,
                fm.code,
                str(rnd.randint(1, 4)),
                title,
                "",
                f"fix {eq.code} {fm.code} #{i % 97}",
            )
        )
    ctx.repo.upsert_notifications(items)
    dim = ctx.embedder.dim
    gen = np.random.default_rng(seed)
    titles = sorted({item.title for item in items})
    row_of = {t: i for i, t in enumerate(titles)}
    base = ctx.embedder.encode(titles) if vectors == "embedded" else None
    for s in range(0, n, 5000):
        batch = items[s : s + 5000]
        noise = gen.standard_normal((len(batch), dim)).astype(np.float32)
        if base is None:
            vec = noise
        else:
            # Noise of norm ~0.35 against unit title vectors: neighbours stay neighbours.
            vec = base[[row_of[item.title] for item in batch]] + noise * (0.35 / np.sqrt(dim))
        vec /= np.linalg.norm(vec, axis=1, keepdims=True)
        ctx.index.upsert(batch, vec)
    return n


def render(template: str, ctx: PMark, rnd: random.Random) -> str:
    cat = ctx.catalog()
    pick = {
        c: rnd.choice([e for e in cat if e.category == c])
        for c in ("location", "equipment", "failure_mode", "priority")
    }
    return template.format(
        loc=pick["location"].name_ko,
        eq=pick["equipment"].name_ko,
        fm=pick["failure_mode"].name_ko,
        pri=pick["priority"].name_ko,
        loc_en=pick["location"].name_en,
        eq_en=pick["equipment"].name_en,
        fm_en=pick["failure_mode"].name_en,
        pri_en=pick["priority"].name_en,
    )


async def run(
    ctx: PMark, settings: Settings, concurrency: int, turns: int, label: str
) -> tuple[list[float], dict[str, list[float]], float, list[float]]:
    async with open_agent(PMark(settings)) as agent:
        # As `pmark serve` does once warm (bot/looplag.freeze_heap): the models and the 100k-row
        # index stay out of the collector's full passes, which would otherwise stall random turns.
        gc.collect()
        gc.freeze()
        rnd = random.Random(concurrency)
        latencies: list[float] = []
        nodes: dict[str, list[float]] = defaultdict(list)
        baseline: list[float] = []
        kinds: dict[str, list[float]] = defaultdict(list)

        async def conversation(i: int) -> None:
            thread = f"bench:{label}:{uuid.uuid4().hex[:8]}"
            script = MESSAGES[i % len(MESSAGES)]
            for t in range(turns):
                # The baseline, interleaved so both see the same load: an empty message on a
                # side thread only validates and checkpoints.
                t0 = time.perf_counter()
                await agent.turn(thread + ":base", "")
                baseline.append((time.perf_counter() - t0) * 1000)
                text = render(script[t % len(script)], ctx, rnd)
                t0 = time.perf_counter()
                response = await agent.turn(thread, text)
                latencies.append((time.perf_counter() - t0) * 1000)
                kinds[str(response.get("kind"))].append(latencies[-1])
                for node, ms in (response.get("timings") or {}).items():
                    nodes[node].append(ms)

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(conversation(i) for i in range(concurrency)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    for kind, values in sorted(kinds.items()):
        nodes[f"whole turn, {kind}"] = values
    # CPU of the whole process (every thread) over both kinds of turn, measured and baseline.
    nodes["CPU ms per turn (measured and baseline alike)"] = [
        1000 * cpu / max(1, len(latencies) + len(baseline))
    ]
    return latencies, nodes, wall, baseline


def peak_rss_mb() -> float:
    """The process's resident-memory high-water mark."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--notifications", type=int, default=100_000)
    ap.add_argument("--concurrency", default="1,10,100")
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument(
        "--min-samples",
        type=int,
        default=60,
        help="turns per configuration at least (a p95 of 4 samples is just the maximum)",
    )
    ap.add_argument("--postgres-url", default=None)
    ap.add_argument(
        "--vectors",
        choices=("embedded", "random"),
        default="embedded",
        help="history vectors: the titles' embeddings plus noise (default), or random",
    )
    ap.add_argument(
        "--pools-on-demand",
        action="store_true",
        help="open PostgreSQL connections as turns need them (PMARK_DB_POOL_OPEN_FULL=false); "
        "by default the pools open full, as a server under load should run",
    )
    ap.add_argument(
        "--catalog",
        type=Path,
        default=REPO / "data" / "catalog.csv",
        help="catalog CSV the history and the messages are built from (default: the demo one)",
    )
    args = ap.parse_args()
    # As `pmark serve` runs (bot/app.py): numpy's BLAS on one thread per process. Without it
    # OpenBLAS's idle threads spin, and CPU per turn counted them (86 vs 45 ms per answer turn
    # measured at 20k notifications, 2026-12-07).
    threadpool_limits(Settings().blas_threads)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        ctx = PMark(Settings(data_dir=data))
        ctx.import_catalog(args.catalog)
        t0 = time.perf_counter()
        synthetic_history(ctx, args.notifications, vectors=args.vectors)
        print(
            f"history: {args.notifications} notifications ({args.vectors} vectors) stored and indexed in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        # The ANN graph is built by a background process (adapters/search/ann_files.py): time
        # it, so that the turns measure the steady state rather than the exact scan before it.
        t0 = time.perf_counter()
        refresh, wait_for_ann = (getattr(ctx.index, a, None) for a in ("refresh", "wait_for_ann"))
        if refresh is not None and wait_for_ann is not None:
            refresh()
            wait_for_ann(900)
            print(f"ANN graph built in the background in {time.perf_counter() - t0:.1f} s")
        stores = [("sqlite", Settings(data_dir=data))]
        if args.postgres_url:
            stores.append(
                (
                    "postgres",
                    Settings(
                        data_dir=data,
                        postgres_url=args.postgres_url,
                        db_pool_open_full=not args.pools_on_demand,
                    ),
                )
            )
        print(
            f"{'store':<9}{'conv':>5}{'turns':>7}{'turns/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'base p95':>10}{'p95/base':>10}"
        )
        breakdown: dict[str, dict[str, list[float]]] = {}
        target = ""
        for name, settings in stores:
            for c in (int(x) for x in args.concurrency.split(",")):
                turns = max(args.turns, -(-args.min_samples // c))
                lat, nodes, wall, base = asyncio.run(run(ctx, settings, c, turns, name))
                print(
                    f"{name:<9}{c:>5}{len(lat):>7}{len(lat) / wall:>9.1f}{statistics.median(lat):>9.1f}"
                    f"{pct(lat, 0.95):>9.1f}{pct(base, 0.95):>10.1f}{pct(lat, 0.95) / pct(base, 0.95):>9.1f}x"
                )
                breakdown[f"{name} x{c}"] = nodes
                if name == "postgres" and c == 1:
                    verdict = "met" if pct(lat, 0.95) <= TARGET_P95_MS else "NOT met"
                    target = f"target p95 <= {TARGET_P95_MS:.0f} ms (PostgreSQL, 1 conversation): {verdict}"
        if target:
            print(target)
        print("\nper-node p50 / p95 ms")
        for label, nodes in breakdown.items():
            parts = ", ".join(
                f"{n} {statistics.median(v):.1f}/{pct(v, 0.95):.1f}"
                for n, v in sorted(nodes.items())
            )
            print(f"  {label}: {parts}")
        print(
            f"\npeak RSS of this process: {peak_rss_mb():.0f} MB (100k rows, models, both stores)"
        )


if __name__ == "__main__":
    main()
