"""Evaluation benchmark: one full run over 1,000 retrieval queries and 1,000 utterances.

    .venv/bin/python benchmarks/bench_eval.py                    # data/catalog.csv + data/history.csv
    .venv/bin/python benchmarks/bench_eval.py --catalog C.csv --history H.csv --queries 1000
    .venv/bin/python benchmarks/bench_eval.py --quick            # 200 + 200 smoke run

A fresh data dir (SQLite, embedded index) is loaded from the CSVs. Queries are built from the
history (a notification's title, or title + details; relevant = notifications with the same
equipment and failure mode), utterances from the catalog's names and synonyms: nothing is tuned
to one catalog. Model loading and indexing are timed separately and not part of the run.

Baseline, measured in the same process on the same queries: the seed prototype's SQL-style
scoring (`agent/recommend/prototype.py`, parse + score every notification). Ratios say what the
full evaluation (parsing + hybrid retrieval + feedback, stored) costs against it.
Target: the full run (1,000 queries + 1,000 utterances) <= 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from adapters.settings import Settings  # noqa: E402
from evaluation.datasets import (  # noqa: E402
    load_retrieval_gold,
    retrieval_gold_from_history,
    synthesize_parse_gold,
    write_jsonl,
)
from evaluation.runner import Evaluator  # noqa: E402

TARGET_S = 30.0


def main() -> None:
    """Run the benchmark and print figures, ratios and the target check."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--catalog", type=Path, default=REPO / "data" / "catalog.csv")
    ap.add_argument("--history", type=Path, default=REPO / "data" / "history.csv")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--utterances", type=int, default=1000)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--quick", action="store_true", help="200 queries and 200 utterances")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.quick:
        args.queries = args.utterances = 200

    from agent.context import PMark

    with tempfile.TemporaryDirectory(prefix="pmark-bench-eval-") as tmp:
        work = Path(tmp)
        ctx = PMark(Settings(data_dir=work / "data", _env_file=None))  # type: ignore[call-arg]
        t0 = time.perf_counter()
        ctx.import_catalog(args.catalog, replace=True)
        ctx.import_notifications(args.history)
        _ = ctx.parser
        load_s = time.perf_counter() - t0

        history = [n for batch in ctx.repo.iter_notifications() for n in batch]
        retrieval = work / "retrieval_gold.jsonl"
        parse = work / "parse_gold.jsonl"
        write_jsonl(retrieval, retrieval_gold_from_history(history, args.queries, seed=1))
        write_jsonl(parse, synthesize_parse_gold(ctx.catalog(), args.utterances, seed=1))
        examples = load_retrieval_gold(retrieval)

        # Baseline first: it also warms nothing the full run uses except the parser's cache,
        # which the full run warms for itself anyway on its own texts.
        evaluator = Evaluator(ctx, workers=args.workers)
        t0 = time.perf_counter()
        baseline = evaluator.retrieval(examples, args.k, config="prototype")
        baseline_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = Evaluator(ctx, workers=args.workers).run(parse, retrieval, k=args.k)
        full_s = time.perf_counter() - t0

        m = result.metrics
        figures = {
            "notifications": len(history),
            "queries": m["retrieval"]["n"] + m["retrieval"]["n_skipped"],
            "utterances": m["parsing"]["n"],
            "workers": args.workers,
            "cpus": os.cpu_count(),
            "load_and_index_s": round(load_s, 2),
            "full_run_s": round(full_s, 2),
            "baseline_prototype_s": round(baseline_s, 2),
            "ratio_full_vs_prototype": round(full_s / baseline_s, 2) if baseline_s else None,
            "queries_per_s": round(args.queries / full_s, 1),
            "retrieve_p50_ms": round(m["perf"]["retrieve"]["p50_ms"], 2),
            "retrieve_p95_ms": round(m["perf"]["retrieve"]["p95_ms"], 2),
            "parse_p95_ms": round(m["perf"]["parse"]["p95_ms"], 2),
            "precision_at_k": round(m["retrieval"]["precision_at_k"], 4),
            "precision_at_k_prototype": round(baseline.metrics["precision_at_k"], 4),
            "ndcg_at_k": round(m["retrieval"]["ndcg_at_k"], 4),
            "ndcg_at_k_prototype": round(baseline.metrics["ndcg_at_k"], 4),
            "parsing_weighted_accuracy": round(m["parsing"]["weighted_accuracy"], 4),
            "target_s": TARGET_S,
            "target_met": full_s <= TARGET_S,
        }
        ctx.repo.close()
    if args.json:
        print(json.dumps(figures))
        return
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
