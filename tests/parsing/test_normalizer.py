"""Vector normalization with the real multilingual embedder."""

from __future__ import annotations

from pathlib import Path

from adapters.domain import CatalogEntry
from adapters.embeddings.factory import make_embedder
from adapters.settings import Settings
from agent.parsing.normalizer import VectorNormalizer
from agent.parsing.parser import CatalogParser

ENTRIES = [
    CatalogEntry("equipment", "X1", "공기압축기", "", ()),
    CatalogEntry("equipment", "X2", "변압기", "", ()),
    CatalogEntry("equipment", "X3", "컨베이어", "", ()),
    CatalogEntry("failure_mode", "F1", "과열", "", ()),
]


def test_english_terms_find_korean_only_codes(tmp_path: Path) -> None:
    embedder = make_embedder(Settings(data_dir=tmp_path))
    normalizer = VectorNormalizer(embedder, ENTRIES, threshold=0.5, cache_dir=tmp_path)
    ranked = normalizer.scores("air compressor", "equipment")
    assert ranked[0][0].code == "X1"
    assert ranked[0][1] > ranked[1][1]
    hit = normalizer.best(["transformer"], ["equipment"])["equipment"]
    assert hit.entry.code == "X2"


def test_threshold_gates_and_vectors_are_cached(tmp_path: Path) -> None:
    embedder = make_embedder(Settings(data_dir=tmp_path))
    strict = VectorNormalizer(embedder, ENTRIES, threshold=0.999, cache_dir=tmp_path)
    assert strict.best(["air compressor"], ["equipment"]) == {}
    assert list(tmp_path.glob("forms-*.npy"))
    again = VectorNormalizer(embedder, ENTRIES, threshold=0.5, cache_dir=tmp_path)
    assert again.best(["transformer"], ["equipment"])["equipment"].entry.code == "X2"


def test_parser_fills_a_missing_field_by_vectors_and_says_so(tmp_path: Path) -> None:
    embedder = make_embedder(Settings(data_dir=tmp_path))
    parser = CatalogParser(ENTRIES, VectorNormalizer(embedder, ENTRIES, threshold=0.5))
    result = parser.parse("the transformer is 과열")
    assert result.code("failure_mode") == "F1"
    assert result.code("equipment") == "X2"
    assert result.fields["equipment"].method == "vector"
    assert ("equipment", result.fields["equipment"].surface, "X2") in {
        d[:3] for d in result.decisions
    }
