"""Several processes (server workers) on one embedded index directory: each sees the others'
writes, concurrent writers never collide on slots, compaction is followed, vectors are mapped."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from adapters.domain import Notification
from adapters.search.embedded import EmbeddedIndex
from adapters.text.tokenizer import Tokenizer

REPO = Path(__file__).resolve().parents[2]
DIM = 8
START = datetime(2024, 3, 1, 6, 0)
EQUIPMENT = ("PU", "CO", "MO", "VA")


class WordTokenizer(Tokenizer):
    """Lowercased whitespace words: what is tested here does not depend on Kiwi's analysis."""

    def __init__(self) -> None:  # no Kiwi model to load (the spawned writers start faster)
        pass

    def tokens(self, text: str) -> list[str]:
        return text.lower().split()

    def tokens_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokens(t) for t in texts]


def vector(itemno: str, version: int = 1) -> np.ndarray:
    """A unit vector determined by (itemno, version), so that a checker can recompute it."""
    rng = np.random.default_rng(zlib.crc32(f"{itemno}/{version}".encode()))
    v = rng.standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def note(itemno: str, n: int, title: str | None = None) -> Notification:
    return Notification(
        itemno,
        START + timedelta(hours=n),
        "P1",
        EQUIPMENT[n % len(EQUIPMENT)],
        "LEAK",
        str(1 + n % 4),
        title or f"{itemno} pump seal leak {n % 7}",
        "",
        "replaced seal",
    )


def upsert(index: EmbeddedIndex, notes: list[Notification], version: int = 1) -> None:
    index.upsert(notes, np.stack([vector(n.itemno, version) for n in notes]))


def nearest(index: EmbeddedIndex, itemno: str, version: int = 1) -> str | None:
    """The top hit of a pure vector query with exactly this item's vector."""
    hits = index.query(itemno, vector(itemno, version), 1.0, None, 3)
    return hits[0].itemno if hits else None


def stored_vector(index: EmbeddedIndex, itemno: str) -> np.ndarray:
    """The row the index holds for this item (mapped or in memory)."""
    rows: np.ndarray = index._vectors.rows(np.asarray([index._slot_of[itemno]], dtype=np.int64))
    return np.asarray(rows[0])


@pytest.fixture
def tokenizer() -> Tokenizer:
    return WordTokenizer()


def test_two_instances_see_each_others_writes(tmp_path: Path, tokenizer: Tokenizer) -> None:
    path = tmp_path / "index"
    a = EmbeddedIndex(DIM, path, tokenizer)
    b = EmbeddedIndex(DIM, path, tokenizer)
    first = [note(f"A{i:03d}", i) for i in range(10)]
    upsert(a, first)
    assert b.count() == 10
    assert nearest(b, "A003") == "A003"

    # B's writes continue A's slots (it catches up before allocating), and A follows them.
    upsert(b, [note("B000", 50), note("B001", 51)])
    assert a.count() == b.count() == 12
    assert nearest(a, "B001") == "B001"
    np.testing.assert_array_equal(stored_vector(a, "B001"), vector("B001"))

    # A replacement through one instance: the other ranks with the new vector and content.
    upsert(a, [note("A005", 5, title="crane wire damaged")], version=2)
    assert nearest(b, "A005", version=2) == "A005"
    np.testing.assert_array_equal(stored_vector(b, "A005"), vector("A005", 2))
    hits = b.query("crane wire", vector("A005", 2), 0.0, None, 5)
    assert [h.itemno for h in hits] == ["A005"] and hits[0].title == "crane wire damaged"

    assert b.delete(["A003"]) == 1
    assert "A003" not in {h.itemno for h in a.query("pump seal", vector("A003"), 0.5, None, 50)}
    assert a.count() == b.count() == 11
    assert a.delete(["A003"]) == 0  # already gone through B

    fresh = EmbeddedIndex(DIM, path, tokenizer)
    assert fresh.count() == 11
    for itemno, version in [("A000", 1), ("A005", 2), ("B000", 1), ("B001", 1)]:
        np.testing.assert_array_equal(stored_vector(fresh, itemno), vector(itemno, version))


def test_a_reader_leaves_a_partial_line_for_later(tmp_path: Path, tokenizer: Tokenizer) -> None:
    path = tmp_path / "index"
    writer = EmbeddedIndex(DIM, path, tokenizer)
    upsert(writer, [note(f"A{i:03d}", i) for i in range(4)])
    reader = EmbeddedIndex(DIM, path, tokenizer)
    assert reader.count() == 4
    # Another process's append in progress: vectors written, log line half written.
    line = json.dumps(
        {
            "op": "u",
            "slot": 4,
            "itemno": "X001",
            "title": "late arrival",
            "resolution": "",
            "created_at": None,
            "location": "P1",
            "equipment": "PU",
            "failure_mode": "LEAK",
            "priority": "1",
            "tokens": ["late", "arrival"],
        }
    ).encode()
    with (path / "vectors.f32").open("ab") as f:
        f.write(vector("X001").tobytes())
    with (path / "log.jsonl").open("ab") as f:
        f.write(line[:30])
    size = (path / "log.jsonl").stat().st_size
    assert reader.count() == 4
    assert nearest(reader, "X001") != "X001"
    assert (path / "log.jsonl").stat().st_size == size  # a reader never cuts the line
    with (path / "log.jsonl").open("ab") as f:
        f.write(line[30:] + b"\n")
    assert reader.count() == 5
    assert nearest(reader, "X001") == "X001"


WRITER = """
import sys
sys.path.insert(0, sys.argv[1])
from tests.search.test_embedded_processes import run_writer
run_writer(sys.argv[2], sys.argv[3])
"""
PER_WRITER = 300


def expected_of(prefix: str) -> dict[str, int]:
    """What `run_writer(prefix)` leaves: itemno -> version of its last vector."""
    final = {f"{prefix}{i:04d}": 1 for i in range(PER_WRITER)}
    for i in range(0, PER_WRITER, 5):
        final[f"{prefix}{i:04d}"] = 2
    for i in range(3, PER_WRITER, 25):
        del final[f"{prefix}{i:04d}"]
    return final


def run_writer(directory: str, prefix: str) -> None:
    """In a separate process: upsert PER_WRITER items in small batches, replace every fifth,
    delete a few, in step with a parent that starts every writer at once."""
    index = EmbeddedIndex(DIM, Path(directory), WordTokenizer())
    print("ready", flush=True)
    sys.stdin.readline()
    items = [note(f"{prefix}{i:04d}", i) for i in range(PER_WRITER)]
    for s in range(0, PER_WRITER, 7):
        upsert(index, items[s : s + 7])
    for s in range(0, PER_WRITER, 15):
        upsert(index, items[s : s + 15 : 5], version=2)
    index.delete([f"{prefix}{i:04d}" for i in range(3, PER_WRITER, 25)])
    print(index.count(), flush=True)


def test_concurrent_writer_processes_keep_every_item_once(
    tmp_path: Path, tokenizer: Tokenizer
) -> None:
    path = tmp_path / "index"
    prefixes = ("P", "Q")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(REPO), str(path), prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for prefix in prefixes
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:  # both go at once, so their appends interleave
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            proc.communicate(timeout=300)
            assert proc.returncode == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()

    expected = {**expected_of("P"), **expected_of("Q")}
    index = EmbeddedIndex(DIM, path, tokenizer)
    assert index.count() == len(expected)
    live = [d.itemno for d in index._docs if d is not None]
    assert sorted(live) == sorted(expected)  # each exactly once
    for itemno, version in expected.items():
        np.testing.assert_array_equal(stored_vector(index, itemno), vector(itemno, version))
        assert nearest(index, itemno, version) == itemno


def test_compaction_by_one_instance_is_followed_by_the_other(
    tmp_path: Path, tokenizer: Tokenizer
) -> None:
    path = tmp_path / "index"
    a = EmbeddedIndex(DIM, path, tokenizer)
    b = EmbeddedIndex(DIM, path, tokenizer)
    notes = [note(f"C{i:03d}", i) for i in range(40)]
    upsert(a, notes)
    upsert(a, notes[:20], version=2)  # 20 dead slots
    a.delete([n.itemno for n in notes[30:35]])
    assert b.count() == 35  # B has followed the old files before they are replaced
    size = (path / "vectors.f32").stat().st_size

    a.compact()
    assert (path / "vectors.f32").stat().st_size < size
    assert b.count() == 35
    for i in (0, 19, 20, 29, 39):
        version = 2 if i < 20 else 1
        assert nearest(b, f"C{i:03d}", version) == f"C{i:03d}"
    assert nearest(b, "C031") != "C031"
    for text, alpha in [("pump seal leak 3", 0.5), ("c007 seal", 0.0), ("", 1.0)]:
        q = vector("C007", 2)
        expected = [(h.itemno, round(h.score, 5)) for h in a.query(text, q, alpha, None, 10)]
        assert [(h.itemno, round(h.score, 5)) for h in b.query(text, q, alpha, None, 10)] == (
            expected
        )

    # Writes after the compaction continue the new slot sequence on both sides.
    upsert(b, [note("D000", 99)])
    assert a.count() == b.count() == 36
    assert nearest(a, "D000") == "D000"
    b.compact()
    upsert(a, [note("D001", 100)])
    assert nearest(b, "D001") == "D001" and b.count() == 37
    fresh = EmbeddedIndex(DIM, path, tokenizer)
    assert fresh.count() == 37
    np.testing.assert_array_equal(stored_vector(fresh, "C010"), vector("C010", 2))
    np.testing.assert_array_equal(stored_vector(fresh, "D001"), vector("D001"))


def test_reopened_vectors_are_a_read_only_map(tmp_path: Path, tokenizer: Tokenizer) -> None:
    path = tmp_path / "index"
    first = EmbeddedIndex(DIM, path, tokenizer)
    old = [note(f"M{i:03d}", i) for i in range(50)]
    upsert(first, old)
    first.close()

    index = EmbeddedIndex(DIM, path, tokenizer)
    base = index._vectors.base
    assert isinstance(base, np.memmap) and len(base) == 50
    assert not base.flags.writeable
    # Rows added later go to memory; reads and scans span the map and the blocks.
    new = [note(f"N{i:03d}", 100 + i) for i in range(5)]
    upsert(index, new)
    assert index._vectors.base is base
    expected = np.stack([vector(n.itemno) for n in old + new])
    slots = np.asarray([index._slot_of[n.itemno] for n in old + new], dtype=np.int64)
    np.testing.assert_array_equal(index._vectors.rows(slots), expected)
    q = vector("N002")
    np.testing.assert_allclose(index._vectors.dot(q, 55)[slots], expected @ q, rtol=1e-6)
    assert nearest(index, "M007") == "M007" and nearest(index, "N002") == "N002"


def test_surplus_rows_of_a_crashed_upsert_stay_out_of_the_map(
    tmp_path: Path, tokenizer: Tokenizer
) -> None:
    path = tmp_path / "index"
    upsert(EmbeddedIndex(DIM, path, tokenizer), [note(f"S{i:03d}", i) for i in range(6)])
    with (path / "vectors.f32").open("ab") as f:  # vectors written, log line never was
        f.write(vector("lost").tobytes())
    index = EmbeddedIndex(DIM, path, tokenizer)
    assert index._vectors.start == 6 and index.count() == 6
    assert (path / "vectors.f32").stat().st_size == 6 * DIM * 4  # cut under the writer lock
    upsert(index, [note("S006", 6)])
    np.testing.assert_array_equal(
        stored_vector(EmbeddedIndex(DIM, path, tokenizer), "S006"), vector("S006")
    )
