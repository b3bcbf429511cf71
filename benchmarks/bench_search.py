"""Search benchmark: import throughput, query latency and memory of the hybrid indexes.

    .venv/bin/python benchmarks/bench_search.py                 # 10k and 100k, embedded index
    .venv/bin/python benchmarks/bench_search.py --quick         # 1k smoke run
    .venv/bin/python benchmarks/bench_search.py --weaviate-url http://127.0.0.1:8080

Notifications are synthesized from data/catalog.csv (or a built-in vocabulary). Vectors are random
unit vectors: they cost the same to store and scan as real ones, and embedding speed is not what is
measured here. Each size runs in a fresh subprocess so that peak RSS belongs to that size alone, and the
data are generated batch by batch so that the benchmark's own copy does not count.
The baseline, measured in the same process, is a brute-force numpy scan (exact cosine top-k over
the whole matrix, no BM25, no filters): ratios say what hybrid search costs on top of it.
Targets (100k notifications, 2 cores): embedded query p95 <= 50 ms, peak RSS <= 1 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from adapters.domain import CatalogEntry, Notification  # noqa: E402
from adapters.search.base import SearchFilters, SearchIndex  # noqa: E402

DIM = 512
BATCH = 1000
BUILTIN = {
    "equipment": [
        ("PU", "펌프", "pump"),
        ("CO", "압축기", "compressor"),
        ("MO", "모터", "motor"),
        ("VA", "밸브", "valve"),
        ("FN", "팬", "fan"),
        ("HX", "열교환기", "heat exchanger"),
    ],
    "failure_mode": [
        ("LEAK", "누유", "leak"),
        ("NOISE", "소음", "noise"),
        ("HOT", "과열", "overheat"),
        ("VIB", "진동", "vibration"),
        ("TRIP", "트립", "trip"),
    ],
    "location": [
        ("P1", "1공장", "plant 1"),
        ("P2", "2공장", "plant 2"),
        ("P3", "3공장", "plant 3"),
    ],
}
PHRASES_KO = [
    "점검 요청",
    "현장 확인 필요",
    "교체 후 정상",
    "운전 중 발생",
    "야간 근무 중 발견",
    "베어링 상태 불량",
    "씰 교체 필요",
    "압력 저하",
    "온도 상승",
    "이음 발생",
]
PHRASES_EN = [
    "please check",
    "found during night shift",
    "replaced and normal",
    "pressure drop",
    "temperature high",
    "bearing worn",
    "seal replaced",
    "needs inspection",
]


def vocabulary() -> dict[str, list[tuple[str, str, str, tuple[str, ...]]]]:
    """(code, ko, en, synonyms) per category, from data/catalog.csv when present."""
    path = REPO / "data" / "catalog.csv"
    if path.exists():
        from adapters.csv_import import parse_catalog

        out: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {}
        for e in parse_catalog(path).rows:
            out.setdefault(e.category, []).append((e.code, e.name_ko, e.name_en, e.synonyms))
        if all(out.get(c) for c in ("equipment", "failure_mode", "location")):
            return out
    return {c: [(a, b, d, ()) for a, b, d in rows] for c, rows in BUILTIN.items()}


def catalog_entries() -> list[CatalogEntry]:
    """Entries for the tokenizer's user words."""
    return [
        CatalogEntry(cat, code, ko, en, syn)
        for cat, rows in vocabulary().items()
        for code, ko, en, syn in rows
    ]


def synthesize(n: int, seed: int = 7, first: int = 0) -> list[Notification]:
    """n plausible mixed Korean/English notifications, numbered from `first`."""
    rng = random.Random(seed * 1_000_003 + first)
    voc = vocabulary()
    start = datetime(2020, 1, 1)
    out = []
    for i in range(first, first + n):
        eq = rng.choice(voc["equipment"])
        fm = rng.choice(voc["failure_mode"])
        loc = rng.choice(voc["location"])

        def form(entry: tuple[str, str, str, tuple[str, ...]], ko: bool) -> str:
            if entry[3] and rng.random() < 0.3:
                return rng.choice(entry[3])
            return entry[1] if ko else entry[2]

        ko = rng.random() < 0.7
        tag = f"{eq[0][:2]}-{rng.randint(100, 999)}{rng.choice('ABC')}"
        title = f"{tag} {form(eq, ko)} {form(fm, ko)}"
        phrases = PHRASES_KO if ko else PHRASES_EN
        details = " ".join(rng.sample(phrases, 3))
        out.append(
            Notification(
                itemno=f"B{i:07d}",
                created_at=start + timedelta(minutes=37 * i),
                location=loc[0],
                equipment=eq[0],
                failure_mode=fm[0],
                priority=str(rng.randint(1, 4)),
                title=title,
                details=details,
                resolution=rng.choice(phrases),
            )
        )
    return out


def random_unit(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def batches(n: int) -> Iterator[tuple[list[Notification], np.ndarray]]:
    """The data set in import batches, generated on the fly so the benchmark holds none of it."""
    for s in range(0, n, BATCH):
        size = min(BATCH, n - s)
        yield synthesize(size, first=s), random_unit(size, 1_000 + s)


def measure(
    index: SearchIndex,
    n: int,
    samples: list[Notification],
    queries: list[str],
    qvecs: np.ndarray,
) -> dict[str, Any]:
    """Import in batches, then time hybrid queries (plain and filtered)."""
    before = rss_mb()
    import_s = 0.0
    for docs, vectors in batches(n):
        t = time.perf_counter()
        index.upsert(docs, vectors)
        import_s += time.perf_counter() - t
    refresh = getattr(index, "refresh", None)
    t = time.perf_counter()
    if refresh is not None:
        refresh()  # embedded: BM25 rebuild, otherwise paid by the first query
    refresh_s = time.perf_counter() - t
    # On disk the ANN graph is built by a background process: time it, then query with it.
    wait_for_ann = getattr(index, "wait_for_ann", None)
    t = time.perf_counter()
    if wait_for_ann is not None:
        wait_for_ann(900)
    ann_build_s = time.perf_counter() - t
    assert index.count() == n, (index.count(), n)
    for q, v in zip(queries[:5], qvecs[:5], strict=True):  # warm-up
        index.query(q, v, 0.5, None, 10)
    it = iter(range(10**9))

    def plain() -> None:
        i = next(it) % len(queries)
        index.query(queries[i], qvecs[i], 0.5, None, 10)

    def filtered() -> None:
        i = next(it) % len(queries)
        f = SearchFilters(equipment=[samples[i].equipment or ""], priority=["1", "2"])
        index.query(queries[i], qvecs[i], 0.5, f, 10)

    p50, p95 = percentiles(timed(plain, len(queries)))
    f50, f95 = percentiles(timed(filtered, len(queries)))
    return {
        "import_per_s": n / (import_s + refresh_s),
        "import_s": import_s,
        "bm25_rebuild_s": refresh_s,
        "ann_build_s": ann_build_s,
        "p50_ms": p50,
        "p95_ms": p95,
        "filtered_p50_ms": f50,
        "filtered_p95_ms": f95,
        "rss_growth_mb": rss_mb() - before,
    }


def child(n: int, weaviate_url: str | None, n_queries: int) -> dict[str, Any]:
    """Everything for one size, in this (fresh) process."""
    from adapters.search.embedded import EmbeddedIndex
    from adapters.text.tokenizer import tokenizer_for

    base_rss = rss_mb()
    tokenizer = tokenizer_for(catalog_entries())
    rng = random.Random(3)
    samples = [synthesize(1, first=rng.randrange(n))[0] for _ in range(n_queries)]
    queries = [d.title for d in samples]
    qvecs = random_unit(n_queries, 2)
    result: dict[str, Any] = {"n": n, "rss_after_setup_mb": rss_mb(), "rss_start_mb": base_rss}

    with tempfile.TemporaryDirectory(prefix="pmark-bench-") as tmp:
        index = EmbeddedIndex(DIM, Path(tmp) / "index", tokenizer)
        result["embedded"] = measure(index, n, samples, queries, qvecs)
        result["peak_rss_embedded_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        del index
        gc.collect()
        t = time.perf_counter()
        reopened = EmbeddedIndex(DIM, Path(tmp) / "index", tokenizer)
        result["embedded"]["reopen_s"] = time.perf_counter() - t
        assert reopened.count() == n
        del reopened
        gc.collect()
    result["peak_rss_after_reopen_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Baseline: exact cosine top-10 by brute force over one matrix holding every vector.
    vectors = np.concatenate([v for _, v in batches(n)])
    it = iter(range(10**9))

    def scan() -> None:
        q = qvecs[next(it) % n_queries]
        sims = vectors @ q
        top = np.argpartition(-sims, 10)[:10]
        top[np.argsort(-sims[top])]

    b50, b95 = percentiles(timed(scan, n_queries))
    result["baseline"] = {"p50_ms": b50, "p95_ms": b95}

    if weaviate_url:
        from adapters.search.weaviate import WeaviateIndex

        w = WeaviateIndex(weaviate_url, DIM, f"Bench{uuid.uuid4().hex[:8]}", tokenizer=tokenizer)
        try:
            result["weaviate"] = measure(w, n, samples, queries, qvecs)
        finally:
            w.drop()
            w.close()
    return result


def report(results: list[dict[str, Any]]) -> None:
    print(
        f"\n{'n':>7} {'backend':<9} {'import/s':>9} {'bm25 rebuild':>12} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'filt p95':>8} {'p50/base':>8} {'p95/base':>8}"
    )
    for r in results:
        base = r["baseline"]
        print(
            f"{r['n']:>7} {'baseline':<9} {'-':>9} {'-':>12} {base['p50_ms']:>7.2f} "
            f"{base['p95_ms']:>7.2f} {'-':>8} {1.0:>8.1f} {1.0:>8.1f}"
        )
        for name in ("embedded", "weaviate"):
            m = r.get(name)
            if not m:
                continue
            print(
                f"{r['n']:>7} {name:<9} {m['import_per_s']:>9.0f} {m['bm25_rebuild_s']:>11.2f}s "
                f"{m['p50_ms']:>7.2f} {m['p95_ms']:>7.2f} {m['filtered_p95_ms']:>8.2f} "
                f"{m['p50_ms'] / base['p50_ms']:>8.1f} {m['p95_ms'] / base['p95_ms']:>8.1f}"
            )
        print(
            f"{'':>7} embedded peak RSS (whole process, Kiwi ~350 MB included): "
            f"{r['peak_rss_embedded_mb']:.0f} MB after import+queries, "
            f"{r['peak_rss_after_reopen_mb']:.0f} MB after reopen; index growth "
            f"{r['embedded']['rss_growth_mb']:.0f} MB; reopen {r['embedded']['reopen_s']:.1f}s; "
            f"ANN graph built in the background in {r['embedded']['ann_build_s']:.1f}s"
        )
        target = r["n"] >= 100_000
        if target:
            ok = r["embedded"]["p95_ms"] <= 50 and r["peak_rss_after_reopen_mb"] <= 1024
            print(f"{'':>7} target (p95 <= 50 ms, RSS <= 1 GB): {'MET' if ok else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k notifications only (smoke run)")
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated sizes")
    parser.add_argument("--weaviate-url", default=None, help="also benchmark this Weaviate")
    parser.add_argument("--queries", type=int, default=200, help="queries timed per size")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.weaviate_url, args.queries)))
        return
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(
        f"cpus={len(os.sched_getaffinity(0))} vectors=random unit (dim {DIM}), "
        f"catalog={'data/catalog.csv' if (REPO / 'data' / 'catalog.csv').exists() else 'builtin'}"
    )
    results = []
    for n in sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--queries", str(args.queries)]
        if args.weaviate_url:
            cmd += ["--weaviate-url", args.weaviate_url]
        t = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"size {n}: done in {time.perf_counter() - t:.0f}s", flush=True)
    report(results)


if __name__ == "__main__":
    main()
