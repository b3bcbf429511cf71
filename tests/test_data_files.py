"""The shipped demo data: catalog, history, gold sets, and the generators that build them."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "data" / "catalog.csv"
HISTORY = REPO / "data" / "history.csv"
PARSE_GOLD = REPO / "evaluation" / "datasets" / "parse_gold.jsonl"
RETRIEVAL_GOLD = REPO / "evaluation" / "datasets" / "retrieval_gold.jsonl"
GENERATOR = REPO / "scripts" / "generate_history.py"
RETRIEVAL_BUILDER = REPO / "scripts" / "build_retrieval_gold.py"

CATEGORIES = {"location", "equipment", "failure_mode", "priority", "activity"}
CATALOG_HEADER = ["category", "code", "name_ko", "name_en", "synonyms", "parent"]
HISTORY_HEADER = [
    "itemno",
    "created_at",
    "location",
    "equipment",
    "failure_mode",
    "priority",
    "title",
    "details",
    "resolution",
]
FIELDS = ("location", "equipment", "failure_mode", "priority")


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_jsonl(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def catalog_rows() -> list[dict[str, str]]:
    header, rows = read_csv(CATALOG)
    assert header == CATALOG_HEADER
    return rows


@pytest.fixture(scope="module")
def codes(catalog_rows: list[dict[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {c: set() for c in CATEGORIES}
    for row in catalog_rows:
        out[row["category"]].add(row["code"])
    return out


@pytest.fixture(scope="module")
def history_rows() -> list[dict[str, str]]:
    header, rows = read_csv(HISTORY)
    assert header == HISTORY_HEADER
    return rows


def test_catalog_rows_are_valid(catalog_rows: list[dict[str, str]]) -> None:
    seen: set[tuple[str, str]] = set()
    for row in catalog_rows:
        assert row["category"] in CATEGORIES, row
        assert row["code"].strip() == row["code"] and row["code"], row
        assert row["name_ko"] or row["name_en"], row
        key = (row["category"], row["code"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)
        synonyms = row["synonyms"].split("|") if row["synonyms"] else []
        assert all(s.strip() for s in synonyms), f"empty synonym in {key}"
    for row in catalog_rows:
        if row["parent"]:
            assert (row["category"], row["parent"]) in seen, f"dangling parent in {row}"
            assert row["parent"] != row["code"]


def test_catalog_size_and_coverage(codes: dict[str, set[str]]) -> None:
    assert sum(len(v) for v in codes.values()) >= 150
    assert codes["priority"] == {"1", "2", "3", "4"}
    assert {"ELP", "VIB", "NOI", "OHE", "FTS", "BRD", "INL", "PLU"} <= codes["failure_mode"]
    assert len(codes["location"]) >= 10 and len(codes["equipment"]) >= 20


def test_priority_synonyms_do_not_clash_with_location_codes(
    catalog_rows: list[dict[str, str]], codes: dict[str, set[str]]
) -> None:
    location_codes = {c.lower() for c in codes["location"]}
    for row in catalog_rows:
        if row["category"] == "priority":
            synonyms = {s.strip().lower() for s in row["synonyms"].split("|")}
            assert not synonyms & location_codes, row


def test_history_size_and_itemnos(history_rows: list[dict[str, str]]) -> None:
    assert len(history_rows) >= 2000
    itemnos = [r["itemno"] for r in history_rows]
    assert len(set(itemnos)) == len(itemnos)


def test_history_references_catalog_codes(
    history_rows: list[dict[str, str]], codes: dict[str, set[str]]
) -> None:
    from datetime import datetime

    for row in history_rows:
        for field in FIELDS:
            assert row[field] in codes[field], (row["itemno"], field, row[field])
        datetime.fromisoformat(row["created_at"])
        assert row["title"].strip(), row["itemno"]


def test_history_uses_many_codes(
    history_rows: list[dict[str, str]], codes: dict[str, set[str]]
) -> None:
    used = {f: {r[f] for r in history_rows} for f in FIELDS}
    assert used["priority"] == codes["priority"]
    assert len(used["equipment"]) >= 0.8 * len(codes["equipment"])
    assert len(used["location"]) >= 0.8 * len(codes["location"])


def test_parse_gold(codes: dict[str, set[str]]) -> None:
    rows = read_jsonl(PARSE_GOLD)
    assert len(rows) >= 300
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts)
    langs = {"ko": 0, "en": 0, "mixed": 0}
    for row in rows:
        assert isinstance(row["text"], str) and row["text"].strip()
        assert row["lang"] in langs
        langs[str(row["lang"])] += 1
        assert isinstance(row["scenario"], str) and row["scenario"]
        expected = row["expected"]
        assert isinstance(expected, dict) and set(expected) == set(FIELDS)
        for field in FIELDS:
            value = expected[field]
            assert value is None or value in codes[field], (row["text"], field, value)
    assert all(n >= 50 for n in langs.values()), langs


def test_parse_gold_covers_field_values(codes: dict[str, set[str]]) -> None:
    rows = read_jsonl(PARSE_GOLD)
    for field in FIELDS:
        used = {r["expected"][field] for r in rows if isinstance(r["expected"], dict)}
        assert None in used or field == "equipment"
        assert len(used - {None}) >= min(4, len(codes[field]))
    priorities = {r["expected"]["priority"] for r in rows if isinstance(r["expected"], dict)}
    assert {"1", "2", "3", "4"} <= priorities


def test_retrieval_gold(
    history_rows: list[dict[str, str]],
    codes: dict[str, set[str]],
    catalog_rows: list[dict[str, str]],
) -> None:
    parents = {
        r["code"]: r["parent"] for r in catalog_rows if r["category"] == "equipment" and r["parent"]
    }

    def lineage(code: str) -> list[str]:
        chain = [code]
        while chain[-1] in parents and len(chain) < 10:
            chain.append(parents[chain[-1]])
        return chain

    rows = read_jsonl(RETRIEVAL_GOLD)
    assert len(rows) >= 200
    by_itemno = {r["itemno"]: r for r in history_rows}
    for row in rows:
        assert isinstance(row["query"], str) and row["query"].strip()
        relevant = row["relevant"]
        assert isinstance(relevant, list) and relevant
        assert row["failure_mode"] in codes["failure_mode"]
        assert row["equipment"] in codes["equipment"]
        for itemno in relevant:
            assert itemno in by_itemno, itemno
            assert by_itemno[itemno]["failure_mode"] == row["failure_mode"]
            assert row["equipment"] in lineage(by_itemno[itemno]["equipment"]), itemno


def _run(script: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True)


def test_generator_is_deterministic_and_matches_committed_history(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    _run(GENERATOR, "--out", str(first))
    _run(GENERATOR, "--out", str(second))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == HISTORY.read_bytes()


def test_generator_output_is_unchanged_by_moving_its_tables_to_data(tmp_path: Path) -> None:
    """The phrase tables moved from the script to scripts/history_phrases.json: the same seed
    still gives the very bytes the script with inline tables gave (digest taken before)."""
    out = tmp_path / "seed3.csv"
    _run(GENERATOR, "--out", str(out), "--seed", "3", "--count", "500")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert digest == "920d71629a2f097013c9af209cde74727c425f9ba185148de3c19d60819ef398"


def test_generator_seed_changes_output(tmp_path: Path) -> None:
    out = tmp_path / "other.csv"
    _run(GENERATOR, "--out", str(out), "--seed", "7", "--count", "50")
    _, rows = read_csv(out)
    assert len(rows) == 50
    assert out.read_bytes() != HISTORY.read_bytes()


def test_retrieval_builder_matches_committed_gold(tmp_path: Path) -> None:
    out = tmp_path / "gold.jsonl"
    _run(RETRIEVAL_BUILDER, "--out", str(out))
    assert out.read_bytes() == RETRIEVAL_GOLD.read_bytes()
