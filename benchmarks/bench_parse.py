"""Parser speed and accuracy on the gold set, against a keyword-only baseline in the same run.

.venv/bin/python benchmarks/bench_parse.py [--catalog data/catalog.csv]
    [--gold evaluation/datasets/parse_gold.jsonl] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adapters.csv_import import parse_catalog
from adapters.domain import CATEGORIES, CatalogEntry
from adapters.embeddings.factory import make_embedder
from adapters.settings import Settings
from agent.parsing.normalizer import VectorNormalizer
from agent.parsing.parser import CatalogParser
from agent.parsing.textnorm import normalize
from evaluation.metrics import aggregate_parsing

REPO = Path(__file__).resolve().parents[1]


def keyword_baseline(entries: Sequence[CatalogEntry]) -> Callable[[str], dict[str, Any]]:
    """The simplest parser: first catalog name or synonym found as a substring, per category."""
    forms = sorted(
        ((normalize(f), e) for e in entries for f in (e.name_ko, e.name_en, *e.synonyms) if f),
        key=lambda p: -len(p[0]),
    )

    def parse(text: str) -> dict[str, Any]:
        norm = normalize(text)
        out: dict[str, Any] = {c: None for c in CATEGORIES}
        for form, entry in forms:
            if out[entry.category] is None and form in norm:
                out[entry.category] = entry.code
        return out

    return parse


def measure(
    parse: Callable[[str], dict[str, Any]], texts: list[str], repeat: int
) -> dict[str, float]:
    """Throughput and per-text latency percentiles."""
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            t0 = time.perf_counter()
            parse(text)
            latencies.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    latencies.sort()
    return {
        "per_s": len(latencies) / total,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", type=Path, default=REPO / "data" / "catalog.csv")
    ap.add_argument(
        "--gold", type=Path, default=REPO / "evaluation" / "datasets" / "parse_gold.jsonl"
    )
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    entries = parse_catalog(args.catalog).rows
    gold = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line]
    texts = [g["text"] for g in gold]
    with tempfile.TemporaryDirectory() as tmp:
        embedder = make_embedder(Settings(data_dir=Path(tmp)))
        normalizer = VectorNormalizer(embedder, entries, cache_dir=Path(tmp))
        plain = CatalogParser(entries)
        with_vectors = CatalogParser(entries, normalizer)
        variants: dict[str, Callable[[str], dict[str, Any]]] = {
            "keyword baseline": keyword_baseline(entries),
            "catalog parser": lambda t: plain.parse(t).as_json(),
            "catalog + vectors": lambda t: with_vectors.parse(t).as_json(),
        }
        rows: dict[str, dict[str, float]] = {}
        for name, parse in variants.items():
            for text in texts[:20]:
                parse(text)  # warm caches and lazy loads out of the timing
            figures = measure(parse, texts, args.repeat)
            summary = aggregate_parsing(
                (g["expected"], parse(g["text"]), g.get("lang", ""), g.get("scenario", ""))
                for g in gold
            )
            figures["accuracy"] = summary["weighted_accuracy"]
            rows[name] = figures

    base = rows["keyword baseline"]
    print(
        f"{len(texts)} gold utterances x {args.repeat}; catalog {args.catalog.name} ({len(entries)} codes)"
    )
    print(
        f"{'variant':<20}{'parses/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'accuracy':>10}{'acc vs baseline':>17}{'speed vs baseline':>19}"
    )
    for name, r in rows.items():
        print(
            f"{name:<20}{r['per_s']:>10.0f}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{r['accuracy']:>10.3f}"
            f"{r['accuracy'] / base['accuracy']:>16.2f}x{r['per_s'] / base['per_s']:>18.3f}x"
        )


if __name__ == "__main__":
    main()
