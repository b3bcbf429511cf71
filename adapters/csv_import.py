"""Reading catalog and notification CSV files as plants export them (UTF-8, BOM, CP949)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from adapters.domain import (
    CATALOG_COLUMNS,
    CATEGORIES,
    NOTIFICATION_COLUMNS,
    CatalogEntry,
    Notification,
)

T = TypeVar("T")

# A catalog's names feed phrase tables built per word pair of a name (shorthand, n-grams), so a
# name has a bound: SAP's code texts stop at 40 characters, a plant's catalog at far less than this.
MAX_CODE_CHARS = 64
MAX_NAME_CHARS = 120
MAX_SYNONYMS = 64


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, missing columns)."""


@dataclass(frozen=True)
class RowError:
    """A row that was skipped, with its line number in the file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ParsedFile(Generic[T]):
    """Good rows and the errors of the bad ones."""

    rows: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"


def read_text(path: Path) -> tuple[str, str]:
    """Decode a CSV file: UTF-8 (with or without BOM) or CP949/EUC-KR, as Korean Excel saves it."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    guess = from_bytes(raw).best()
    named = guess.encoding if guess is not None else "unknown"
    raise CsvFileError(
        f"{path}: not UTF-8 or CP949/EUC-KR text (looks like {named}); "
        "save it as 'CSV UTF-8' and import again"
    )


def _records(
    text: str, columns: tuple[str, ...], path: Path
) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFileError(f"{path}: empty file") from None
    header = [h.strip().lower() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise CsvFileError(
            f"{path}: missing columns {', '.join(missing)} (header: {', '.join(header)})"
        )
    index = {c: header.index(c) for c in columns}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield line, {"__error__": f"expected {len(header)} fields, found {len(row)}"}
            continue
        yield line, {c: row[i].strip() for c, i in index.items()}


def parse_catalog(path: Path) -> ParsedFile[CatalogEntry]:
    """Catalog rows `category,code,name_ko,name_en,synonyms,parent`; bad rows reported by line."""
    text, encoding = read_text(path)
    out: ParsedFile[CatalogEntry] = ParsedFile(encoding=encoding)
    seen: set[tuple[str, str]] = set()
    for line, rec in _records(text, CATALOG_COLUMNS, path):
        if "__error__" in rec:
            out.errors.append(RowError(line, rec["__error__"]))
            continue
        category = rec["category"].lower()
        if category not in CATEGORIES:
            out.errors.append(RowError(line, f"unknown category {rec['category']!r}"))
            continue
        if not rec["code"]:
            out.errors.append(RowError(line, "empty code"))
            continue
        if not (rec["name_ko"] or rec["name_en"]):
            out.errors.append(RowError(line, "no name_ko or name_en"))
            continue
        too_long = _too_long(rec)
        if too_long:
            out.errors.append(RowError(line, too_long))
            continue
        if (category, rec["code"]) in seen:
            out.errors.append(RowError(line, f"duplicate code {category}/{rec['code']}"))
            continue
        seen.add((category, rec["code"]))
        synonyms = _synonyms(rec)
        out.rows.append(
            CatalogEntry(
                category,
                rec["code"],
                rec["name_ko"],
                rec["name_en"],
                synonyms,
                rec["parent"] or None,
            )
        )
    known = {(e.category, e.code) for e in out.rows}
    kept: list[CatalogEntry] = []
    for e in out.rows:
        if e.parent and (e.category, e.parent) not in known:
            # A dangling parent is a data slip, not a reason to lose the code.
            kept.append(CatalogEntry(e.category, e.code, e.name_ko, e.name_en, e.synonyms, None))
        else:
            kept.append(e)
    out.rows = kept
    return out


def _synonyms(rec: dict[str, str]) -> tuple[str, ...]:
    return tuple(s.strip() for s in rec["synonyms"].split("|") if s.strip())


def _too_long(rec: dict[str, str]) -> str:
    """Why a catalog row is over the bounds, or '' when it is within them."""
    if len(rec["code"]) > MAX_CODE_CHARS:
        return f"code longer than {MAX_CODE_CHARS} characters"
    if len(rec["parent"]) > MAX_CODE_CHARS:
        return f"parent longer than {MAX_CODE_CHARS} characters"
    for column in ("name_ko", "name_en"):
        if len(rec[column]) > MAX_NAME_CHARS:
            return f"{column} longer than {MAX_NAME_CHARS} characters"
    synonyms = _synonyms(rec)
    if len(synonyms) > MAX_SYNONYMS:
        return f"more than {MAX_SYNONYMS} synonyms"
    if any(len(s) > MAX_NAME_CHARS for s in synonyms):
        return f"a synonym longer than {MAX_NAME_CHARS} characters"
    return ""


def parse_datetime(value: str) -> datetime:
    """ISO 8601 date or datetime, also `YYYY-MM-DD HH:MM` and `YYYY/MM/DD`."""
    value = value.strip().replace("/", "-")
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def parse_notifications(path: Path) -> ParsedFile[Notification]:
    """Notification rows; codes are kept as written, dates must parse, itemno and title required."""
    text, encoding = read_text(path)
    out: ParsedFile[Notification] = ParsedFile(encoding=encoding)
    seen: set[str] = set()
    for line, rec in _records(text, NOTIFICATION_COLUMNS, path):
        if "__error__" in rec:
            out.errors.append(RowError(line, rec["__error__"]))
            continue
        if not rec["itemno"]:
            out.errors.append(RowError(line, "empty itemno"))
            continue
        if not (rec["title"] or rec["details"]):
            out.errors.append(RowError(line, "no title or details"))
            continue
        try:
            created = parse_datetime(rec["created_at"])
        except ValueError:
            out.errors.append(RowError(line, f"bad created_at {rec['created_at']!r}"))
            continue
        if rec["itemno"] in seen:
            out.errors.append(RowError(line, f"duplicate itemno {rec['itemno']}"))
            continue
        seen.add(rec["itemno"])
        out.rows.append(
            Notification(
                itemno=rec["itemno"],
                created_at=created,
                location=rec["location"] or None,
                equipment=rec["equipment"] or None,
                failure_mode=rec["failure_mode"] or None,
                priority=rec["priority"] or None,
                title=rec["title"] or rec["details"][:200],
                details=rec["details"],
                resolution=rec["resolution"],
            )
        )
    return out
