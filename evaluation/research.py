"""The researcher's facade: the small public API the notebooks (notebooks/*.py) use.

Why here: PMark's packages are bot -> agent -> adapters, and evaluation may use agent and
adapters but nothing imports bot. A research facade needs the agent (parser, recommender, graph)
and the evaluation machinery (gold sets, metrics, runs), so evaluation/ is the lowest layer that
may hold it; the notebooks import only `evaluation.research` (plus numpy and the standard
library), so internal modules can move without breaking them.

Everything runs on a throw-away workspace (its own SQLite database and in-memory-sized index
under a temporary directory) built from catalog and history CSVs, with seeded randomness.
"""

from __future__ import annotations

import asyncio
import csv
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.datasets import (
    DEFAULT_PARSE_GOLD,
    DEFAULT_RETRIEVAL_GOLD,
    ParseExample,
    RetrievalExample,
    load_parse_gold,
    load_retrieval_gold,
)
from evaluation.embedding_metrics import (
    DEFAULT_SIMILARITY_GOLD,
    SimilarityPair,
    load_similarity_pairs,
    spearman,
)
from evaluation.metrics import aggregate_parsing, aggregate_retrieval, paired_permutation_test
from evaluation.perf import percentile
from evaluation.runner import Outcome
from evaluation.runs import RunResult

if TYPE_CHECKING:
    from agent.context import PMark

__all__ = [
    "DEFAULT_PARSE_GOLD",
    "DEFAULT_RETRIEVAL_GOLD",
    "DEFAULT_SIMILARITY_GOLD",
    "Outcome",
    "ParseExample",
    "RetrievalExample",
    "RunResult",
    "SimilarityPair",
    "Workspace",
    "aggregate_parsing",
    "aggregate_retrieval",
    "demo_data",
    "latency_ms",
    "load_parse_gold",
    "load_retrieval_gold",
    "load_similarity_pairs",
    "open_workspace",
    "paired_permutation_test",
    "seed_everything",
    "spearman",
]

REPO_ROOT = Path(__file__).resolve().parents[1]


def seed_everything(seed: int = 0) -> random.Random:
    """Seed Python's and numpy's global generators; a seeded Random for the notebook's own use."""
    random.seed(seed)
    np.random.seed(seed)
    return random.Random(seed)


def demo_data(root: Path | None = None) -> tuple[Path, Path]:
    """(catalog.csv, history.csv) of a checkout's data/ directory (this checkout by default)."""
    data = (root or REPO_ROOT) / "data"
    return data / "catalog.csv", data / "history.csv"


def latency_ms(fn: Callable[[Any], Any], items: Sequence[Any]) -> dict[str, float]:
    """Call fn on each item; count, p50_ms, p95_ms and mean_ms of the calls."""
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - started) * 1000)
    if not times:
        return {"count": 0}
    return {
        "count": len(times),
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "mean_ms": sum(times) / len(times),
    }


def _head_csv(source: Path, target: Path, rows: int) -> Path:
    """The header and the first `rows` data rows of a CSV, written to `target`."""
    with source.open(encoding="utf-8-sig", newline="") as src:
        reader = csv.reader(src)
        kept = [row for _, row in zip(range(rows + 1), reader, strict=False)]
    with target.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(kept)
    return target


@dataclass
class Workspace:
    """A PMark context on its own data directory, with the catalog and history imported."""

    ctx: PMark
    workdir: Path
    seed: int

    # Parsing and normalization ------------------------------------------------------------------

    def parse(self, texts: Sequence[str], vectors: bool = True) -> list[dict[str, Any]]:
        """What `pmark parse --json` prints for each text (vectors=False: catalog matching only)."""
        return [self.ctx.parser.parse(t, vectors=vectors).as_json() for t in texts]

    def normalize(self, term: str, category: str, top: int = 3) -> list[tuple[str, float]]:
        """The catalog codes nearest to a term in one category, with cosine similarity."""
        normalizer = self.ctx.parser.normalizer
        if normalizer is None:
            return []
        return [(e.code, round(s, 4)) for e, s in normalizer.scores(term, category)[:top]]

    def normalization_sweep(
        self, thresholds: Sequence[float], split: str = "test"
    ) -> list[dict[str, Any]]:
        """Leave-one-form-out normalization of catalog forms at each threshold (one split)."""
        from evaluation.embedding_metrics import catalog_forms, normalization_metrics

        forms = catalog_forms(self.ctx.catalog())
        vectors = self.embed([f for _, _, f in forms])
        return [normalization_metrics(forms, vectors, t, split) for t in thresholds]

    @property
    def normalize_threshold(self) -> float:
        """The configured similarity a vector normalization must reach."""
        return self.ctx.settings.normalize_threshold

    # Search and recommendation ------------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """What `pmark search` returns for one query: itemno, title, score and why."""
        from agent.recommend.service import search_texts

        return [
            {"itemno": r.itemno, "title": r.title, "score": round(r.score, 4), "why": r.why}
            for _, recs in search_texts(self.ctx, [query], k)
            for r in recs
        ]

    def evaluate_parsing(
        self, examples: Sequence[ParseExample], config: str = "vectors"
    ) -> Outcome:
        """Parsing accuracy of a parser configuration (`vectors` | `novectors`), not stored."""
        from evaluation.runner import Evaluator

        return Evaluator(self.ctx).parsing(examples, config)

    def evaluate_retrieval(
        self, examples: Sequence[RetrievalExample], k: int = 5, config: str = "hybrid"
    ) -> Outcome:
        """Retrieval metrics of a configuration (hybrid, bm25, vector, prototype), not stored."""
        from evaluation.runner import Evaluator

        return Evaluator(self.ctx).retrieval(examples, k, config)

    # Database, embeddings -----------------------------------------------------------------------

    def table_counts(self) -> dict[str, int]:
        """Rows in the main tables."""
        repo = self.ctx.repo
        return {
            "catalog_entries": repo.catalog_count(),
            "notifications": repo.notification_count(),
            "feedback": repo.feedback_count(),
        }

    def itemnos(self) -> set[str]:
        """The itemnos of the stored notifications."""
        return {n.itemno for batch in self.ctx.repo.iter_notifications() for n in batch}

    def catalog(self) -> list[dict[str, Any]]:
        """The stored catalog entries as plain dicts."""
        return [
            {
                "category": e.category,
                "code": e.code,
                "name_ko": e.name_ko,
                "name_en": e.name_en,
                "synonyms": list(e.synonyms),
            }
            for e in self.ctx.catalog()
        ]

    def notifications(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Stored notifications as plain dicts (in storage order)."""
        out: list[dict[str, Any]] = []
        for batch in self.ctx.repo.iter_notifications():
            for n in batch:
                out.append(
                    {
                        "itemno": n.itemno,
                        "equipment": n.equipment,
                        "failure_mode": n.failure_mode,
                        "location": n.location,
                        "priority": n.priority,
                        "title": n.title,
                        "text": n.search_text(),
                    }
                )
                if limit is not None and len(out) >= limit:
                    return out
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The configured embedder's unit vectors for texts."""
        return self.ctx.embedder.encode(list(texts))

    def compare_embedders(
        self,
        models: Sequence[str] = ("use", "tfidf"),
        retrieval_gold: Path | None = None,
        cluster_limit: int = 300,
    ) -> RunResult:
        """`pmark eval embeddings` on this workspace (stored in its own database)."""
        from evaluation.embedding_eval import EmbeddingEvaluator

        evaluator = EmbeddingEvaluator(
            self.ctx, seed=self.seed, retrieval_gold=retrieval_gold, cluster_limit=cluster_limit
        )
        return evaluator.run(models)

    # The LangGraph workflow ---------------------------------------------------------------------

    def conversation(
        self, messages: Sequence[str], thread: str = "notebook"
    ) -> list[dict[str, Any]]:
        """Run messages as one conversation through the agent graph; the response of each turn."""
        from agent.service import open_agent

        async def run() -> list[dict[str, Any]]:
            async with open_agent(self.ctx) as agent:
                return [await agent.turn(f"research:{thread}", m, "researcher") for m in messages]

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run())
        # A Jupyter kernel runs its cells inside an event loop, where asyncio.run is refused: the
        # conversation gets a loop of its own on a worker thread.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, run()).result()

    def node_latency(self) -> dict[str, dict[str, float]]:
        """This process's per-node latency (count, p50_ms, p95_ms) from the agent's histograms."""
        from evaluation.quantiles import live_node_latency

        return live_node_latency()


def open_workspace(
    catalog_csv: Path,
    history_csv: Path,
    *,
    history_rows: int | None = None,
    workdir: Path | None = None,
    seed: int = 0,
    index: bool = True,
) -> Workspace:
    """Import a catalog and (the first `history_rows` rows of) a history into a fresh workspace.

    `index=False` stores the history without embedding it (for notebooks that never search).
    """
    from adapters.settings import Settings
    from agent.context import PMark

    seed_everything(seed)
    root = Path(workdir or tempfile.mkdtemp(prefix="pmark-research-"))
    root.mkdir(parents=True, exist_ok=True)
    if history_rows is not None:
        history_csv = _head_csv(history_csv, root / "history.csv", history_rows)
    # Its own SQLite database and embedded index, whatever PMARK_* the environment sets.
    settings = Settings(
        data_dir=root / "data",
        database_url=None,
        postgres_url=None,
        weaviate_url=None,
        llm_url=None,
        _env_file=None,  # type: ignore[call-arg]
    )
    ctx = PMark(settings)
    ctx.import_catalog(catalog_csv)
    if index:
        ctx.import_notifications(history_csv)
    else:
        from adapters.csv_import import parse_notifications

        ctx.repo.upsert_notifications(parse_notifications(history_csv).rows)
    return Workspace(ctx, root, seed)
