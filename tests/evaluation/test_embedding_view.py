"""The /eval page's embedding section: the latest embeddings run, models side by side."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from evaluation.embedding_view import embedding_section, latest_embedding_run
from evaluation.page import PageData, render_eval_page


def _split(v: float) -> dict[str, Any]:
    return {
        "similarity": {"spearman": v, "spearman_by_lang": {"ko": v, "en": v, "ko-en": v - 0.5}},
        "retrieval": {"precision_at_k": v / 2, "ndcg_at_k": v / 2},
        "clustering": {"ari_equipment": v / 3, "ari_failure_mode": None},
        "normalization": {"accuracy": v},
    }


RUN = {
    "id": 7,
    "status": "ok",
    "started_at": datetime(2026, 12, 1, 9, 30),
    "config": {"kind": "embeddings"},
    "metrics": {
        "models": {
            "use": {"dev": _split(0.8), "test": _split(0.7), "encode": {"texts_per_s": 90.0}},
            "tfidf": {"dev": _split(0.5), "test": _split(0.4), "encode": {"texts_per_s": 900.0}},
        },
        "unavailable": {"st": "sentence-transformers is not installed <x>"},
    },
}


def test_latest_embedding_run_skips_failed_and_other_kinds() -> None:
    failed = {**RUN, "id": 9, "status": "failed"}
    full = {**RUN, "id": 8, "config": {"kind": "full"}}
    assert latest_embedding_run([failed, full, RUN]) is RUN
    assert latest_embedding_run([full]) is None


def test_section_puts_models_side_by_side_on_the_test_split() -> None:
    section = embedding_section(RUN)
    assert section["headers"] == ["metric", "use", "tfidf"] and section["split"] == "test"
    rows = {r[0]: r[1:] for r in section["rows"]}
    assert rows["Spearman (test)"] == ["0.700", "0.400"]
    assert rows["ARI failure mode (dev)"] == ["–", "–"] and rows["texts/s"] == ["90.0", "900.0"]
    assert rows["st: not evaluated"][0].startswith("sentence-transformers")
    bars = re.findall(r'data-series="(\w+)" data-group="Spearman"', str(section["charts"][0]))
    assert bars == ["use", "tfidf"]


def test_page_shows_the_section_escaped() -> None:
    html = render_eval_page(PageData(runs=[], embeddings=RUN))
    assert "Embedding models" in html and 'id="chart-embeddings"' in html
    assert "not installed &lt;x&gt;" in html and "<x>" not in html
    assert "Embedding models" not in render_eval_page(PageData(runs=[]))
