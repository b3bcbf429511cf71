"""Gold sets (JSONL) and supervisors' thumbs turned into relevance judgments.

Formats (one JSON object per line, blank lines ignored):
- parse gold: {"text", "expected": {"location","equipment","failure_mode","priority"},
  "lang": "ko|en|mixed", "scenario": "..."}
- retrieval gold: {"query", "relevant": [itemno, ...]}
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.domain import CatalogEntry, Notification
from evaluation.metrics import PARSE_FIELDS

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
DEFAULT_PARSE_GOLD = DATASETS_DIR / "parse_gold.jsonl"
DEFAULT_RETRIEVAL_GOLD = DATASETS_DIR / "retrieval_gold.jsonl"


class GoldFormatError(ValueError):
    """A gold file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class ParseExample:
    """One sentence with the catalog codes a parser should find."""

    text: str
    expected: Mapping[str, str | None]
    lang: str = "unknown"
    scenario: str = "unknown"


@dataclass(frozen=True)
class RetrievalExample:
    """One query with the itemnos judged relevant to it."""

    query: str
    relevant: tuple[str, ...]


@dataclass(frozen=True)
class Judgment:
    """Supervisors' verdicts for one query: 👍 = relevant, 👎 = not relevant."""

    query: str
    positive: frozenset[str] = field(default_factory=frozenset)
    negative: frozenset[str] = field(default_factory=frozenset)


def _lines(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise GoldFormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldFormatError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise GoldFormatError(f"{path}:{number}: expected a JSON object")
        yield number, obj


def _code(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def load_parse_gold(path: Path) -> list[ParseExample]:
    """Read a parse gold file; raises GoldFormatError naming the bad line."""
    out: list[ParseExample] = []
    for number, obj in _lines(path):
        text, expected = obj.get("text"), obj.get("expected")
        if not isinstance(text, str) or not text.strip():
            raise GoldFormatError(f"{path}:{number}: 'text' must be a non-empty string")
        if not isinstance(expected, dict):
            raise GoldFormatError(f"{path}:{number}: 'expected' must be an object")
        codes = {f: _code(expected.get(f)) for f in PARSE_FIELDS}
        lang = str(obj.get("lang") or "unknown")
        out.append(ParseExample(text, codes, lang, str(obj.get("scenario") or "unknown")))
    if not out:
        raise GoldFormatError(f"{path}: no examples")
    return out


def load_retrieval_gold(path: Path) -> list[RetrievalExample]:
    """Read a retrieval gold file; raises GoldFormatError naming the bad line."""
    out: list[RetrievalExample] = []
    for number, obj in _lines(path):
        query, relevant = obj.get("query"), obj.get("relevant")
        if not isinstance(query, str) or not query.strip():
            raise GoldFormatError(f"{path}:{number}: 'query' must be a non-empty string")
        if not isinstance(relevant, list):
            raise GoldFormatError(f"{path}:{number}: 'relevant' must be a list of itemnos")
        out.append(RetrievalExample(query, tuple(dict.fromkeys(str(r) for r in relevant))))
    if not out:
        raise GoldFormatError(f"{path}: no examples")
    return out


def file_fingerprint(path: Path) -> dict[str, str]:
    """Path and SHA-256 of a gold file, so stored runs say exactly what they measured."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "sha256": digest}


def judgments_from_feedback(rows: Iterable[Mapping[str, Any]]) -> list[Judgment]:
    """Supervisors' thumbs per (query, itemno): net 👍 = relevant, net 👎 = not, a tie = unjudged.

    Thumbs of users who are not supervisors are ignored; queries are compared after collapsing
    whitespace, so the same text typed twice is one query.
    """
    net: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if not row.get("is_supervisor"):
            continue
        query = " ".join(str(row.get("query") or "").split())
        itemno = str(row.get("itemno") or "")
        vote = int(row.get("vote") or 0)
        if not query or not itemno or vote == 0:
            continue
        net[query][itemno] += 1 if vote > 0 else -1
    out = []
    for query in sorted(net):
        votes = net[query]
        positive = frozenset(i for i, v in votes.items() if v > 0)
        negative = frozenset(i for i, v in votes.items() if v < 0)
        if positive or negative:
            out.append(Judgment(query, positive, negative))
    return out


# Synthetic data for tests and benchmarks -------------------------------------------------------

_KO_TAILS = ("점검 요청", "확인 바랍니다", "조치 필요", "", "빠른 조치 부탁")
_EN_TAILS = ("please check", "needs repair", "ASAP", "", "found on rounds")


def _by_category(entries: Sequence[CatalogEntry]) -> dict[str, list[CatalogEntry]]:
    out: dict[str, list[CatalogEntry]] = defaultdict(list)
    for e in entries:
        out[e.category].append(e)
    return out


def synthesize_history(
    entries: Sequence[CatalogEntry], n: int, seed: int = 0, start: datetime | None = None
) -> list[Notification]:
    """`n` notifications drawn from any catalog's codes and names (for tests and benchmarks)."""
    rng = random.Random(seed)
    cats = _by_category(entries)
    start = start or datetime(2023, 1, 1, 8, 0)
    out = []
    for i in range(n):
        loc, eq, fm = (rng.choice(cats[c]) for c in ("location", "equipment", "failure_mode"))
        pri = rng.choice(cats["priority"]) if cats.get("priority") else None
        korean = rng.random() < 0.5
        if korean:
            title = f"{loc.name_ko} {eq.name_ko} {fm.name_ko}"
            details = f"{eq.name_ko} {fm.name_ko} 발생. {rng.choice(_KO_TAILS)}".strip()
            resolution = f"{eq.name_ko} {rng.choice(('교체', '수리', '조정', '청소'))} 완료"
        else:
            title = f"{eq.name_en} {fm.name_en} at {loc.name_en}"
            details = f"{fm.name_en} on {eq.name_en}. {rng.choice(_EN_TAILS)}".strip()
            verb = rng.choice(("replaced", "repaired", "adjusted", "cleaned"))
            resolution = f"{verb} {eq.name_en}"
        out.append(
            Notification(
                itemno=f"S{i + 1:07d}",
                created_at=start + timedelta(hours=7 * i + rng.randint(0, 5)),
                location=loc.code,
                equipment=eq.code,
                failure_mode=fm.code,
                priority=pri.code if pri else None,
                title=title,
                details=details,
                resolution=resolution,
            )
        )
    return out


def synthesize_parse_gold(
    entries: Sequence[CatalogEntry], n: int, seed: int = 0
) -> list[ParseExample]:
    """`n` sentences written from catalog names and synonyms, with their codes as expected."""
    rng = random.Random(seed)
    cats = _by_category(entries)
    out = []
    for _ in range(n):
        picked = {c: rng.choice(cats[c]) for c in PARSE_FIELDS if cats.get(c)}
        lang = rng.choice(("ko", "en"))

        def name(e: CatalogEntry, lang: str = lang) -> str:
            forms = [e.name_ko if lang == "ko" else e.name_en, *e.synonyms]
            return forms[0] if rng.random() < 0.7 or not e.synonyms else rng.choice(forms[1:])

        parts = [name(picked[c]) for c in ("location", "equipment", "failure_mode") if c in picked]
        if "priority" in picked:
            parts.append(name(picked["priority"]))
        text = " ".join(parts)
        expected = {c: (picked[c].code if c in picked else None) for c in PARSE_FIELDS}
        out.append(ParseExample(text, expected, lang, "synthetic"))
    return out


def retrieval_gold_from_history(
    history: Sequence[Notification], n: int, seed: int = 0, max_relevant: int = 20
) -> list[RetrievalExample]:
    """Queries from notification texts; relevant = those with the same equipment and failure."""
    rng = random.Random(seed)
    groups: dict[tuple[str | None, str | None], list[str]] = defaultdict(list)
    for item in history:
        groups[(item.equipment, item.failure_mode)].append(item.itemno)
    out = []
    for _ in range(n):
        item = rng.choice(history)
        group = groups[(item.equipment, item.failure_mode)]
        relevant = [item.itemno, *(i for i in group if i != item.itemno)][:max_relevant]
        query = item.title if rng.random() < 0.5 else f"{item.title} {item.details}"
        out.append(RetrievalExample(query, tuple(relevant)))
    return out


def write_jsonl(path: Path, rows: Iterable[ParseExample | RetrievalExample]) -> Path:
    """Write examples in the gold-file format."""
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            if isinstance(row, ParseExample):
                obj: dict[str, Any] = {
                    "text": row.text,
                    "expected": dict(row.expected),
                    "lang": row.lang,
                    "scenario": row.scenario,
                }
            else:
                obj = {"query": row.query, "relevant": list(row.relevant)}
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return path


def small_catalog() -> list[CatalogEntry]:
    """A tiny generic plant catalog (tests and smoke runs; not the shipped demo catalog)."""
    rows = [
        ("location", "L1", "제1공장", "Plant One", ("1공장", "plant 1"), None),
        ("location", "L1-A", "제1공장 A동", "Plant One Hall A", ("A동", "hall a"), "L1"),
        ("location", "L2", "제2공장", "Plant Two", ("2공장", "plant 2"), None),
        ("equipment", "PMP", "펌프", "pump", ("펌프류",), None),
        ("equipment", "PMP-C", "냉각수 펌프", "cooling water pump", ("냉각펌프",), "PMP"),
        ("equipment", "CMP", "압축기", "compressor", ("컴프레서", "compr"), None),
        ("equipment", "MTR", "전동기", "motor", ("모터",), None),
        ("equipment", "VLV", "밸브", "valve", ("v/v",), None),
        ("failure_mode", "LEK", "누설", "leak", ("누유", "새는"), None),
        ("failure_mode", "VIB", "진동", "vibration", ("떨림",), None),
        ("failure_mode", "OHT", "과열", "overheating", ("온도 상승", "overheat"), None),
        ("failure_mode", "NOI", "소음", "noise", ("이음",), None),
        ("priority", "1", "긴급", "emergency", ("asap", "즉시"), None),
        ("priority", "2", "높음", "high", ("urgent",), None),
        ("priority", "3", "보통", "normal", (), None),
        ("priority", "4", "낮음", "low", (), None),
    ]
    return [CatalogEntry(c, code, ko, en, syn, parent) for c, code, ko, en, syn, parent in rows]
