"""The catalog parser: technician text in, a notification with per-field confidence out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.domain import CATEGORIES, CatalogEntry
from agent.parsing.matcher import CatalogMatcher, Match
from agent.parsing.normalizer import VectorNormalizer
from agent.parsing.tags import find_tag
from agent.parsing.textnorm import content_tokens, normalize

REQUIRED_FIELDS: tuple[str, ...] = ("location", "equipment", "failure_mode", "priority")
_PRIORITY_NUMBER = re.compile(
    r"(?:priority|prio|pri|우선\s*순위|중요도|긴급도|등급)\s*[:=]?\s*([1-9])(?![0-9])"
)


@dataclass(frozen=True)
class FieldValue:
    """One parsed field: its catalog code, how sure we are, and how it was found."""

    code: str | None
    confidence: float
    method: str = "none"
    surface: str = ""


@dataclass
class ParseResult:
    """What the parser understood of one text."""

    text: str
    fields: dict[str, FieldValue]
    equipment_tag: str | None = None
    decisions: list[tuple[str, str, str | None, float, str]] = field(default_factory=list)

    def code(self, category: str) -> str | None:
        """The code of a field, or None."""
        return self.fields[category].code

    @property
    def missing(self) -> list[str]:
        """Required fields the text did not give."""
        return [f for f in REQUIRED_FIELDS if self.fields[f].code is None]

    def as_json(self) -> dict[str, Any]:
        """The `pmark parse --json` object."""
        out: dict[str, Any] = {"text": self.text}
        for category in CATEGORIES:
            out[category] = self.fields[category].code
        out["equipment_tag"] = self.equipment_tag
        out["confidence"] = {c: round(self.fields[c].confidence, 3) for c in CATEGORIES}
        out["missing"] = self.missing
        return out


class CatalogParser:
    """Exact and fuzzy catalog matching first, then vector normalization of what is left."""

    def __init__(
        self,
        entries: Iterable[CatalogEntry],
        normalizer: VectorNormalizer | None = None,
    ) -> None:
        self.entries = list(entries)
        self.by_key = {(e.category, e.code): e for e in self.entries}
        self.matcher = CatalogMatcher(self.entries)
        self.normalizer = normalizer
        self._forms = {normalize(f) for e in self.entries for f in e.surface_forms()}
        self._priority_codes = {e.code for e in self.entries if e.category == "priority"}

    def parse(self, text: str, vectors: bool = True) -> ParseResult:
        """Parse one text; `vectors=False` skips vector normalization."""
        norm = normalize(text)
        selected = _select_spans(self.matcher.find(norm))
        fields: dict[str, FieldValue] = {}
        for category in CATEGORIES:
            fields[category] = self._resolve(category, selected)
        if fields["priority"].code is None:
            m = _PRIORITY_NUMBER.search(norm)
            if m and m.group(1) in self._priority_codes:
                fields["priority"] = FieldValue(m.group(1), 0.9, "pattern", m.group(0))
        result = ParseResult(text=text, fields=fields, equipment_tag=find_tag(text, self._forms))
        if vectors and self.normalizer is not None:
            self._vector_fill(norm, selected, result)
        for category, value in fields.items():
            if value.code is not None:
                result.decisions.append(
                    (category, value.surface, value.code, value.confidence, value.method)
                )
        return result

    def _resolve(self, category: str, selected: Sequence[list[Match]]) -> FieldValue:
        spans = [[m for m in group if m.entry.category == category] for group in selected]
        spans = [g for g in spans if g]
        if not spans:
            return FieldValue(None, 0.0)
        chosen_codes = {m.entry.code for g in spans for m in g}
        # A span naming several codes ("A동" in every plant) is settled by the codes around it.
        resolved: list[Match] = []
        for group in spans:
            if len({m.entry.code for m in group}) == 1:
                resolved.append(group[0])
                continue
            in_context = [m for m in group if self._ancestors(m.entry) & chosen_codes]
            pool = in_context or group
            resolved.append(
                max(pool, key=lambda m: m.score)
                if len(pool) == 1 or in_context
                else _ambiguous(pool)
            )
        resolved = [m for m in resolved if m is not None]
        # A code is dropped when a more specific one below it was also named.
        named = {m.entry.code for m in resolved}
        kept = [
            m
            for m in resolved
            if not any(
                m.entry.code in self._ancestors(self.by_key[(category, other)])
                for other in named
                if other != m.entry.code
            )
        ]
        if not kept:
            return FieldValue(None, 0.0)
        distinct = {m.entry.code for m in kept}
        # Technicians name the machine first and then the part that misbehaves
        # ("쿨링타워 팬 진동", "recip comp valve noise"): the first mention is the subject.
        pick = min(kept, key=lambda m: m.start)
        confidence = pick.score * (1.0 if len(distinct) == 1 else 0.8)
        if pick.method == "ambiguous":
            confidence *= 0.6
        return FieldValue(pick.entry.code, confidence, pick.method, pick.surface)

    def _ancestors(self, entry: CatalogEntry) -> set[str]:
        out: set[str] = set()
        parent = entry.parent
        while parent and parent not in out:
            out.add(parent)
            up = self.by_key.get((entry.category, parent))
            parent = up.parent if up else None
        return out

    def _vector_fill(self, norm: str, selected: Sequence[list[Match]], result: ParseResult) -> None:
        assert self.normalizer is not None
        missing = [
            c for c in ("equipment", "failure_mode", "activity") if result.fields[c].code is None
        ]
        if not missing:
            return
        covered = [False] * len(norm)
        for group in selected:
            for i in range(group[0].start, group[0].end):
                covered[i] = True
        tokens = [
            t
            for t, s, e in content_tokens(norm)
            if not any(covered[s:e]) and len(t) >= 2 and not t.isdigit()
        ]
        terms = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
        if not terms:
            return
        for category, hit in self.normalizer.best(terms, missing).items():
            result.fields[category] = FieldValue(
                hit.entry.code, hit.score * 0.9, "vector", hit.term
            )


def _ambiguous(pool: Sequence[Match]) -> Match:
    best = max(pool, key=lambda m: m.score)
    return Match(best.entry, best.start, best.end, best.surface, "ambiguous", best.score)


def _select_spans(matches: Sequence[Match]) -> list[list[Match]]:
    """Longest spans first, across categories: '보일러실' (a room) beats the '보일러' inside it."""
    groups: dict[tuple[int, int], list[Match]] = {}
    for m in matches:
        groups.setdefault((m.start, m.end), []).append(m)
    order = sorted(
        groups.items(),
        key=lambda kv: (-(kv[0][1] - kv[0][0]), -max(m.score for m in kv[1]), kv[0][0]),
    )
    taken: list[tuple[int, int]] = []
    chosen: list[list[Match]] = []
    for (start, end), group in order:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        best_by_code: dict[tuple[str, str], Match] = {}
        for m in group:
            key = (m.entry.category, m.entry.code)
            if key not in best_by_code or m.score > best_by_code[key].score:
                best_by_code[key] = m
        chosen.append(list(best_by_code.values()))
    chosen.sort(key=lambda g: g[0].start)
    return chosen
