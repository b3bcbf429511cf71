"""The Kiwi search tokenizer: content morphemes, whole codes and abbreviations, catalog words."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.domain import CatalogEntry
from adapters.text.tokenizer import Tokenizer, tokenizer_for

CATALOG = [
    CatalogEntry("failure_mode", "LEAK", "누유", "Oil leak", ("오일 샘", "누설", "새다", "leak")),
    CatalogEntry("equipment", "SEAL", "메카니컬 씰", "Mechanical seal", ("씰", "mech seal")),
    CatalogEntry("equipment", "CO", "압축기", "Compressor", ("콤프레샤", "compr", "A/C")),
    CatalogEntry("failure_mode", "BRK", "파손", "Broken", ("깨짐", "부러짐")),
]


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return tokenizer_for(CATALOG)


def test_catalog_words_are_never_split(tok: Tokenizer) -> None:
    assert "누유" in tok.tokens("펌프 누유 발생")
    assert "씰" in tok.tokens("메카니컬 씰 교체함")
    assert "콤프레샤" in tok.tokens("콤프레샤 이상 소음")


def test_without_the_catalog_kiwi_mangles_the_same_words() -> None:
    # The reason catalog words are registered: plain Kiwi reads 누유 as a verb + ending.
    assert "누유" not in Tokenizer().tokens("펌프 누유 발생")


def test_korean_keeps_content_morphemes_only(tok: Tokenizer) -> None:
    tokens = tok.tokens("냉각수 펌프가 새고 있습니다")
    assert tokens[:2] == ["냉각수", "펌프"]
    assert "새" in tokens  # verb stem kept
    assert not {"가", "고", "습니다", "있"} & set(tokens)  # particles, endings, auxiliaries dropped


def test_english_is_lowercased_without_stopwords(tok: Tokenizer) -> None:
    assert tok.tokens("The PUMP is leaking at the Seal") == ["pump", "leaking", "seal"]


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("pmp 교체", "pmp"),
        ("compr trip", "compr"),
        ("HX fouling", "hx"),
        ("repl bearing", "repl"),
        ("A/C 고장", "a/c"),
        ("P-101A 누유", "p-101a"),
        ("P-101A의 씰", "p-101a"),
        ("V-12.3 밸브", "v-12.3"),
        ("K101B 진동", "k101b"),
    ],
)
def test_abbreviations_and_tags_stay_whole(tok: Tokenizer, text: str, token: str) -> None:
    assert token in tok.tokens(text)


def test_word_pairs_with_a_slash_are_split(tok: Tokenizer) -> None:
    assert tok.tokens("pump/motor") == ["pump", "motor"]


def test_numbers_are_kept(tok: Tokenizer) -> None:
    assert "3.5" in tok.tokens("압력 3.5 bar")


def test_empty_and_blank_text(tok: Tokenizer) -> None:
    assert tok.tokens("") == []
    assert tok.tokens("   \n") == []
    assert tok.tokens_batch(["", "펌프"]) == [[], ["펌프"]]


def test_batch_equals_single(tok: Tokenizer) -> None:
    texts = ["펌프 누유 발생", "compr trip P-101A", "", "메카니컬 씰 교체 요청"]
    assert tok.tokens_batch(texts) == [tok.tokens(t) for t in texts]


def test_query_string_joins_tokens(tok: Tokenizer) -> None:
    assert tok.query_string("펌프 누유") == "펌프 누유"


def test_verb_form_synonyms_are_left_to_kiwi(tok: Tokenizer) -> None:
    assert {"누유", "씰"} <= tok.user_words
    assert "깨짐" not in tok.user_words  # a verb form: its stem 깨지 must keep matching 깨졌다
    assert "깨지" in tok.tokens("유리가 깨졌다") and "깨지" in tok.tokens("유리 깨짐")


def test_compound_names_stay_splittable(tok: Tokenizer) -> None:
    # Registering 냉각수펌프 whole would stop it matching "냉각수 펌프".
    assert Tokenizer(["냉각수펌프"]).tokens("냉각수펌프 누설")[:2] == ["냉각수", "펌프"]


def _same_from_threads(read: Callable[[str], object], texts: list[str]) -> bool:
    """Whether 4 threads reading every text at once all get what one thread got."""
    expected = [read(t) for t in texts]
    results: dict[int, list[object]] = {}

    def work(n: int) -> None:
        results[n] = [read(t) for t in texts]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(results) == 4 and all(r == expected for r in results.values())


def test_shared_between_threads(tok: Tokenizer) -> None:
    assert _same_from_threads(tok.tokens, [f"펌프 누유 {i}번 P-{i}A compr" for i in range(50)])


def test_tokenizer_for_repo_catalog() -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "catalog.csv"
    if not path.exists():
        pytest.skip("no data/catalog.csv")
    from adapters.csv_import import parse_catalog

    tok = tokenizer_for(parse_catalog(path).rows)
    assert tok.tokens("P-101A 펌프 누유") == ["p-101a", "펌프", "누유"]


def test_the_parser_reads_korean_with_the_tokenizers_model(tok: Tokenizer) -> None:
    from adapters.text.tokenizer import catalog_kiwi
    from agent.parsing.history import HistoryModel
    from agent.parsing.lemmas import lemmatize
    from agent.parsing.parser import CatalogParser

    # One Kiwi per process (~230 MB less per worker): the parser's lemmas use the same instance.
    parser = CatalogParser(CATALOG)
    assert parser.matcher._kiwi is tok._kiwi is catalog_kiwi(CATALOG)
    # ... and with it a catalog word stays one lemma, as it stays one search token.
    assert "누유" in lemmatize("펌프 누유 발생", tok._kiwi).text.split()
    assert parser.parse("2공장 펌프 누유 발생").as_json()["failure_mode"] == "LEAK"
    assert HistoryModel(catalog_kiwi(CATALOG)).kiwi is tok._kiwi


def test_the_shared_model_gives_the_same_analyses_from_many_threads(tok: Tokenizer) -> None:
    from agent.parsing.lemmas import lemmatize

    def both(text: str) -> object:
        return tok.tokens(text), lemmatize.__wrapped__(text, tok._kiwi)

    texts = [f"{i}호기 메카니컬 씰 누유 발생, 압축기 깨짐 {i}" for i in range(200)]
    assert _same_from_threads(both, texts)
