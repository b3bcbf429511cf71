"""One contract suite for every SearchIndex: the embedded index always, Weaviate when it runs."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from adapters.domain import CatalogEntry, Notification
from adapters.embeddings.base import Embedder
from adapters.embeddings.use import UseEmbedder
from adapters.search.base import SearchFilters, SearchHit, SearchIndex
from adapters.search.embedded import EmbeddedIndex
from adapters.text.tokenizer import Tokenizer, tokenizer_for
from tests.conftest import service_url

EQUIPMENT = {
    "PU": ("펌프", "pump"),
    "CO": ("압축기", "compressor"),
    "MO": ("모터", "motor"),
    "VA": ("밸브", "valve"),
}
FAILURES = {
    "LEAK": ("누유", "oil leak"),
    "NOISE": ("이상 소음", "abnormal noise"),
    "HOT": ("과열", "overheating"),
    "VIB": ("진동 심함", "high vibration"),
}
FIXES = {"LEAK": "씰 교체", "NOISE": "베어링 교체", "HOT": "냉각팬 청소", "VIB": "축정렬 실시"}
LOCATIONS = ("P1-A", "P1-B", "P2-L1")
CATALOG = [
    *(CatalogEntry("equipment", c, ko, en) for c, (ko, en) in EQUIPMENT.items()),
    *(CatalogEntry("failure_mode", c, ko, en) for c, (ko, en) in FAILURES.items()),
]
START = datetime(2024, 1, 1, 8, 0)


def generate() -> list[Notification]:
    """64 notifications: every equipment x failure, Korean and English, spread over locations."""
    out: list[Notification] = []
    combos = itertools.product(EQUIPMENT, FAILURES, ("ko", "en"), range(2))
    for n, (eq, fm, lang, rep) in enumerate(combos):
        ko_eq, en_eq = EQUIPMENT[eq]
        ko_fm, en_fm = FAILURES[fm]
        tag = f"{eq}-{100 + n}A"
        if lang == "ko":
            title = f"{ko_eq} {ko_fm} 발생" if rep == 0 else f"{tag} {ko_eq}에서 {ko_fm}"
            details = f"{ko_eq} 점검 필요. 현장 확인 요망"
        else:
            title = f"{en_eq} {en_fm}" if rep == 0 else f"{tag} {en_eq} has {en_fm}"
            details = f"please check the {en_eq} on site"
        out.append(
            Notification(
                itemno=f"N{n:04d}",
                created_at=START + timedelta(days=n * 5),
                location=LOCATIONS[n % len(LOCATIONS)],
                equipment=eq,
                failure_mode=fm,
                priority=str(1 + n % 4),
                title=title,
                details=details,
                resolution=FIXES[fm],
            )
        )
    return out


DOCS = generate()


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return tokenizer_for(CATALOG)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return UseEmbedder()


@pytest.fixture(scope="module")
def doc_vectors(embedder: Embedder) -> np.ndarray:
    return embedder.encode([d.search_text() for d in DOCS])


def _weaviate(dim: int, tokenizer: Tokenizer, tenant: str | None = None) -> Iterator[SearchIndex]:
    from adapters.search.weaviate import WeaviateIndex

    url = service_url("PMARK_TEST_WEAVIATE_URL", "Weaviate")
    name = f"PmarkTest{uuid.uuid4().hex[:10]}"
    index = WeaviateIndex(url, dim, name, tenant=tenant, tokenizer=tokenizer)
    try:
        yield index
    finally:
        index.drop()
        index.close()


@pytest.fixture(params=["embedded", pytest.param("weaviate", marks=pytest.mark.weaviate)])
def index(
    request: pytest.FixtureRequest, tmp_path: Path, tokenizer: Tokenizer, embedder: Embedder
) -> Iterator[SearchIndex]:
    """An empty index of each backend."""
    if request.param == "embedded":
        yield EmbeddedIndex(embedder.dim, tmp_path / "index", tokenizer)
    else:
        yield from _weaviate(embedder.dim, tokenizer)


@pytest.fixture
def loaded(index: SearchIndex, doc_vectors: np.ndarray) -> SearchIndex:
    assert index.upsert(DOCS, doc_vectors) == len(DOCS)
    return index


def ask(
    index: SearchIndex,
    embedder: Embedder,
    text: str,
    alpha: float = 0.5,
    filters: SearchFilters | None = None,
    limit: int = 10,
) -> list[SearchHit]:
    return index.query(text, embedder.encode([text])[0], alpha, filters, limit)


def by_id(itemno: str) -> Notification:
    return next(d for d in DOCS if d.itemno == itemno)


def test_upsert_count_delete_are_idempotent(index: SearchIndex, doc_vectors: np.ndarray) -> None:
    assert index.health()
    assert index.count() == 0
    assert index.upsert(DOCS, doc_vectors) == len(DOCS)
    assert index.count() == len(DOCS)
    assert index.upsert(DOCS[:10], doc_vectors[:10]) == 10  # same itemnos: replaced, not added
    assert index.count() == len(DOCS)
    assert index.delete([DOCS[0].itemno, DOCS[1].itemno, DOCS[0].itemno]) == 2
    assert index.count() == len(DOCS) - 2
    assert index.delete([DOCS[0].itemno, "no-such-item"]) == 0
    assert index.upsert([], doc_vectors[:0]) == 0


def test_deleted_items_are_not_found(loaded: SearchIndex, embedder: Embedder) -> None:
    top = ask(loaded, embedder, "펌프 누유", limit=3)[0].itemno
    loaded.delete([top])
    assert top not in {h.itemno for h in ask(loaded, embedder, "펌프 누유", limit=20)}


def test_upsert_replaces_content(loaded: SearchIndex, embedder: Embedder) -> None:
    old = DOCS[5]
    new = Notification(
        old.itemno, old.created_at, old.location, "VA", "HOT", "1", "크레인 와이어 손상", "", "교체"
    )
    loaded.upsert([new], embedder.encode([new.search_text()]))
    hits = ask(loaded, embedder, "크레인 와이어", alpha=0.0)
    assert [h.itemno for h in hits] == [old.itemno]
    assert hits[0].title == "크레인 와이어 손상" and hits[0].equipment == "VA"


def test_scores_are_in_unit_interval_and_sorted(loaded: SearchIndex, embedder: Embedder) -> None:
    for alpha in (0.0, 0.3, 0.5, 0.8, 1.0):
        hits = ask(loaded, embedder, "compressor overheating 압축기 과열", alpha, limit=20)
        assert hits
        scores = [h.score for h in hits]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert hits[0].score == pytest.approx(max(scores))
        for h in hits:
            assert 0.0 <= h.bm25 <= 1.0 and 0.0 <= h.vector <= 1.0
            assert h.score == pytest.approx(alpha * h.vector + (1 - alpha) * h.bm25, abs=1e-3)
            assert "bm25" in h.explanation and "vector" in h.explanation


def test_alpha_zero_is_bm25_only(loaded: SearchIndex, embedder: Embedder) -> None:
    hits = ask(loaded, embedder, "모터 과열", alpha=0.0, limit=50)
    assert hits
    # Only documents containing a query term, and the score is the BM25 part alone.
    for h in hits:
        text = by_id(h.itemno).search_text()
        assert "모터" in text or "과열" in text
        assert h.vector == 0.0 and h.score == pytest.approx(h.bm25, abs=1e-4)
    both = [h for h in hits if {"모터", "과열"} <= set(by_id(h.itemno).search_text().split())]
    assert both and hits[0].itemno in {h.itemno for h in both}
    assert hits[0].score == pytest.approx(1.0)


def test_alpha_one_is_vector_only(
    loaded: SearchIndex, embedder: Embedder, doc_vectors: np.ndarray
) -> None:
    query = "bearing noise on the pump"
    q = embedder.encode([query])[0]
    hits = loaded.query(query, q, 1.0, None, 5)
    expected = [DOCS[i].itemno for i in np.argsort(-(doc_vectors @ q))[:5]]
    assert [h.itemno for h in hits] == expected
    assert hits[0].score == pytest.approx(1.0) and all(h.bm25 == 0.0 for h in hits)


def test_korean_query_finds_korean_documents(loaded: SearchIndex, embedder: Embedder) -> None:
    hits = ask(loaded, embedder, "펌프 누유", limit=3)
    assert [(h.equipment, h.failure_mode) for h in hits[:2]] == [("PU", "LEAK")] * 2
    assert all("누유" in h.title for h in hits[:2])
    assert all(h.equipment == "PU" for h in hits)


def test_korean_query_finds_english_documents_by_vector(
    loaded: SearchIndex, embedder: Embedder
) -> None:
    hits = ask(loaded, embedder, "압축기 과열", alpha=1.0, limit=10)
    assert "compressor overheating" in [h.title for h in hits]
    assert ask(loaded, embedder, "압축기 과열", alpha=0.0, limit=64)  # BM25 side: Korean only
    assert all("compressor" not in h.title for h in ask(loaded, embedder, "압축기 과열", 0.0))


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        (SearchFilters(location=["P1-A"]), lambda d: d.location == "P1-A"),
        (SearchFilters(location=["P1-A", "P2-L1"]), lambda d: d.location in ("P1-A", "P2-L1")),
        (SearchFilters(equipment=["PU"]), lambda d: d.equipment == "PU"),
        (SearchFilters(failure_mode=["HOT", "VIB"]), lambda d: d.failure_mode in ("HOT", "VIB")),
        (SearchFilters(priority=["1"]), lambda d: d.priority == "1"),
        (
            SearchFilters(
                created_from=START + timedelta(days=100), created_to=START + timedelta(days=200)
            ),
            lambda d: START + timedelta(days=100) <= d.created_at <= START + timedelta(days=200),
        ),
        (
            SearchFilters(equipment=["CO"], priority=["2", "3"]),
            lambda d: d.equipment == "CO" and d.priority in ("2", "3"),
        ),
    ],
)
def test_filters_apply_before_ranking(
    loaded: SearchIndex, embedder: Embedder, filters: SearchFilters, check: object
) -> None:
    assert callable(check)
    expected = {d.itemno for d in DOCS if check(d)}
    assert expected
    # alpha 0.5 with a generous limit: every matching document comes back (vector side sees all).
    hits = ask(loaded, embedder, "펌프 누유 pump leak", 0.5, filters, limit=100)
    assert {h.itemno for h in hits} == expected
    assert all(check(by_id(h.itemno)) for h in ask(loaded, embedder, "과열", 0.0, filters))


def test_empty_code_list_matches_nothing(loaded: SearchIndex, embedder: Embedder) -> None:
    assert ask(loaded, embedder, "펌프", filters=SearchFilters(equipment=[])) == []


def test_hits_carry_notification_fields(loaded: SearchIndex, embedder: Embedder) -> None:
    hit = ask(loaded, embedder, "밸브 진동", limit=1)[0]
    doc = by_id(hit.itemno)
    assert (hit.title, hit.resolution, hit.location, hit.equipment, hit.failure_mode) == (
        doc.title,
        doc.resolution,
        doc.location,
        doc.equipment,
        doc.failure_mode,
    )
    assert hit.priority == doc.priority
    assert hit.created_at == doc.created_at.replace(tzinfo=UTC)


def test_query_without_terms_ranks_by_vector(loaded: SearchIndex, embedder: Embedder) -> None:
    hits = ask(loaded, embedder, "...", alpha=0.5, limit=3)
    assert len(hits) == 3 and hits[0].score == pytest.approx(1.0)
    assert ask(loaded, embedder, "...", alpha=0.0) == []


# ----- backend-specific -----


def test_embedded_index_persists_and_compacts(
    tmp_path: Path, tokenizer: Tokenizer, embedder: Embedder, doc_vectors: np.ndarray
) -> None:
    path = tmp_path / "index"
    first = EmbeddedIndex(embedder.dim, path, tokenizer)
    first.upsert(DOCS, doc_vectors)
    first.upsert(DOCS[:20], doc_vectors[:20])
    first.delete([DOCS[30].itemno])
    before = [(h.itemno, round(h.score, 5)) for h in ask(first, embedder, "펌프 누유")]
    first.close()

    reopened = EmbeddedIndex(embedder.dim, path, tokenizer)
    assert reopened.count() == len(DOCS) - 1
    assert [(h.itemno, round(h.score, 5)) for h in ask(reopened, embedder, "펌프 누유")] == before
    size = (path / "vectors.f32").stat().st_size
    reopened.compact()
    assert (path / "vectors.f32").stat().st_size < size
    again = EmbeddedIndex(embedder.dim, path, tokenizer)
    assert again.count() == len(DOCS) - 1
    assert [(h.itemno, round(h.score, 5)) for h in ask(again, embedder, "펌프 누유")] == before


def test_embedded_index_survives_a_torn_write(
    tmp_path: Path, tokenizer: Tokenizer, embedder: Embedder, doc_vectors: np.ndarray
) -> None:
    path = tmp_path / "index"
    EmbeddedIndex(embedder.dim, path, tokenizer).upsert(DOCS[:10], doc_vectors[:10])
    # A crash mid-upsert: vectors appended, log line half written.
    with (path / "vectors.f32").open("ab") as f:
        f.write(doc_vectors[10].tobytes())
    with (path / "log.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"op": "u", "slot": 10, "itemno"')
    index = EmbeddedIndex(embedder.dim, path, tokenizer)
    assert index.count() == 10
    index.upsert(DOCS[10:12], doc_vectors[10:12])
    assert EmbeddedIndex(embedder.dim, path, tokenizer).count() == 12


def test_embedded_index_rejects_other_dimension(tmp_path: Path, tokenizer: Tokenizer) -> None:
    EmbeddedIndex(8, tmp_path / "index", tokenizer)
    with pytest.raises(ValueError, match="dimension"):
        EmbeddedIndex(16, tmp_path / "index", tokenizer)


@pytest.mark.weaviate
def test_backends_agree_on_top_results(
    tmp_path: Path, tokenizer: Tokenizer, embedder: Embedder, doc_vectors: np.ndarray
) -> None:
    embedded = EmbeddedIndex(embedder.dim, tmp_path / "index", tokenizer)
    embedded.upsert(DOCS, doc_vectors)
    for remote in _weaviate(embedder.dim, tokenizer):
        remote.upsert(DOCS, doc_vectors)
        for text, alpha in itertools.product(
            ["펌프 누유", "compressor overheating", "밸브 진동 심함", "motor noise 모터 소음"],
            (0.0, 0.5, 1.0),
        ):
            local = ask(embedded, embedder, text, alpha, limit=3)
            server = ask(remote, embedder, text, alpha, limit=3)
            assert {h.itemno for h in local} == {h.itemno for h in server}, (text, alpha)
            for a, b in zip(local, server, strict=True):
                assert a.score == pytest.approx(b.score, abs=1e-3)


@pytest.mark.weaviate
def test_weaviate_tenants_are_isolated(
    tokenizer: Tokenizer, embedder: Embedder, doc_vectors: np.ndarray
) -> None:
    from adapters.search.weaviate import WeaviateIndex

    for plant1 in _weaviate(embedder.dim, tokenizer, tenant="plant1"):
        assert isinstance(plant1, WeaviateIndex)
        plant1.upsert(DOCS[:8], doc_vectors[:8])
        url = service_url("PMARK_TEST_WEAVIATE_URL", "Weaviate")
        plant2 = WeaviateIndex(url, embedder.dim, plant1.name, tenant="plant2", tokenizer=tokenizer)
        try:
            assert plant1.count() == 8 and plant2.count() == 0
            assert ask(plant2, embedder, "펌프") == []
        finally:
            plant2.close()
