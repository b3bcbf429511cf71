"""The catalog parser: technician text in, a notification with per-field confidence out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters.domain import CATEGORIES, CatalogEntry
from adapters.text.tokenizer import catalog_kiwi
from agent.parsing.compound import head_of
from agent.parsing.history import HistoryModel
from agent.parsing.history_merge import catalog_reliability, combine_history
from agent.parsing.in_context import (
    denied,
    feared,
    named_failure,
    no_urgency,
    said,
    stated_priority,
)
from agent.parsing.lexicon import catch_all_codes, extra_forms, tag_equipment
from agent.parsing.matcher import CatalogMatcher, Match
from agent.parsing.normalizer import VectorNormalizer
from agent.parsing.readings import Readings
from agent.parsing.tags import find_tag, tag_spans
from agent.parsing.textnorm import content_tokens, normalize

REQUIRED_FIELDS: tuple[str, ...] = ("location", "equipment", "failure_mode", "priority")
_PRIORITY_NUMBER = re.compile(
    r"(?:priority|prio|pri|우선\s*순위|중요도|긴급도|등급)\s*+[:=]?\s*+([1-9])(?![0-9])"
)


@dataclass(frozen=True)
class FieldValue:
    """One parsed field: its catalog code, how sure we are, and how it was found."""

    code: str | None
    confidence: float
    method: str = "none"
    surface: str = ""
    words: tuple[str, ...] = ()  # what the history read as evidence for this code


@dataclass
class ParseResult:
    """What the parser understood of one text."""

    text: str
    fields: dict[str, FieldValue]
    equipment_tag: str | None = None
    context_equipment: tuple[str, ...] = ()  # other equipment named beside the one worked on
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
        history: HistoryModel | None = None,
    ) -> None:
        self.entries = list(entries)
        self.by_key = {(e.category, e.code): e for e in self.entries}
        # The search tokenizer's Kiwi: one model per process (adapters/text/tokenizer.py).
        self.matcher = CatalogMatcher(
            self.entries, extra_forms(self.entries), kiwi=catalog_kiwi(self.entries)
        )
        self.normalizer = normalizer
        self.history = history
        self._agree: tuple[int, dict[str, float]] | None = None
        self._forms = {normalize(f) for e in self.entries for f in e.surface_forms()}
        self._priority_codes = {e.code for e in self.entries if e.category == "priority"}
        self._catch_all = catch_all_codes(self.entries)
        self._readings = Readings(self.entries)

    def parse(self, text: str, vectors: bool = True) -> ParseResult:
        """Parse one text; `vectors=False` skips vector normalization."""
        norm = normalize(text)
        result, selected = self._parse(text, norm)
        if vectors and self.normalizer is not None:
            self._vector_fill(norm, selected, result)
        else:
            _record(result)
        return result

    def _parse(
        self, text: str, norm: str, teach: bool = True
    ) -> tuple[ParseResult, list[list[Match]]]:
        """Catalog and lexicon matching, span selection and field resolution."""
        selected: list[list[Match]] = []
        levels: list[Match] = []
        ruled_out: list[Match] = []
        for group in _select_spans(self.matcher.find(norm)):
            if no_urgency(norm, group):
                levels.append(group[0])
            elif denied(norm, group) or feared(norm, group):
                ruled_out.append(group[0])
            else:
                selected.append(group)
        fields: dict[str, FieldValue] = {}
        context: tuple[str, ...] = ()
        for category in CATEGORIES:
            fields[category], others = self._resolve(category, selected, norm)
            if category == "equipment":
                context = others
        if fields["failure_mode"].code is None and self._readings:
            # No failure word: a reading against its normal may still say it (readings.py).
            shown = self._readings.failure(norm)
            if shown is not None:
                fields["failure_mode"] = FieldValue(shown[0].code, 0.75, "reading", shown[1])
        if fields["priority"].code is None:
            m = _PRIORITY_NUMBER.search(norm)
            if m and m.group(1) in self._priority_codes:
                fields["priority"] = FieldValue(m.group(1), 0.9, "pattern", m.group(0))
        tag = find_tag(text, self._forms)
        if tag and fields["equipment"].code is None:
            by_tag = tag_equipment(tag, self.entries)
            if by_tag is not None:
                fields["equipment"] = FieldValue(by_tag.code, 0.6, "tag", tag)
        if self.history is not None and teach:
            combine_history(
                self.history,
                text,
                fields,
                self.by_key,
                self._reliability(),
                said(selected, levels, tag_spans(norm), ruled_out),
                {
                    c: [g[0].surface for g in selected if g[0].entry.category == c]
                    for c in REQUIRED_FIELDS
                },
            )
        return ParseResult(text, fields, tag, context), selected

    def _reliability(self) -> dict[str, float]:
        """How often the catalog alone agrees with the people who coded the history, per field
        (measured once on recent coded texts; a subtree match counts half)."""
        assert self.history is not None
        if self._agree is None or self._agree[0] != self.history.examples:
            self._agree = (self.history.examples, catalog_reliability(self, self.history))
        return self._agree[1]

    def _resolve(
        self, category: str, selected: Sequence[list[Match]], norm: str
    ) -> tuple[FieldValue, tuple[str, ...]]:
        spans = [[m for m in group if m.entry.category == category] for group in selected]
        spans = [g for g in spans if g]
        if not spans:
            return FieldValue(None, 0.0), ()
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
            return FieldValue(None, 0.0), ()
        distinct = {m.entry.code for m in kept}
        # Of a compound ("fuel level sensor", "냉각수 펌프 모터") the head, its last noun, is the
        # object worked on; other mentions further away are context.
        if category == "equipment":
            pick = head_of(kept, selected, norm)
        elif category == "priority":
            pick = stated_priority(kept)
        elif category == "failure_mode":
            pick = named_failure(kept, norm, self._catch_all)
        else:
            pick = min(kept, key=lambda m: m.start)
        confidence = pick.score * (1.0 if len(distinct) == 1 else 0.8)
        if pick.method == "ambiguous":
            confidence *= 0.6
        others = tuple(sorted(distinct - {pick.entry.code}))
        return FieldValue(pick.entry.code, confidence, pick.method, pick.surface), others

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
        missing = _vector_fields(result)
        terms = _vector_terms(norm, selected) if missing else []
        if not terms:
            return
        for category, hit in self.normalizer.best(terms, missing).items():
            result.fields[category] = FieldValue(
                hit.entry.code, hit.score * 0.9, "vector", hit.term
            )
        _record(result)

    def parse_many(self, texts: Sequence[str]) -> list[ParseResult]:
        """Parse a batch; the vector stage embeds every line's leftover terms in one call."""
        staged: list[tuple[ParseResult, list[str], list[str]]] = []
        for text in texts:
            norm = normalize(text)
            result, selected = self._parse(text, norm)
            missing = _vector_fields(result) if self.normalizer is not None else []
            terms = _vector_terms(norm, selected) if missing else []
            staged.append((result, missing, terms))
        if self.normalizer is not None:
            vectors = self.normalizer.encode_terms([t for _, _, terms in staged for t in terms])
            for result, missing, terms in staged:
                if not terms:
                    continue
                matrix = np.stack([vectors[t] for t in terms])
                for category, hit in self.normalizer.best_of(terms, matrix, missing).items():
                    result.fields[category] = FieldValue(
                        hit.entry.code, hit.score * 0.9, "vector", hit.term
                    )
        for result, _, _ in staged:
            _record(result)
        return [result for result, _, _ in staged]


def _vector_fields(result: ParseResult) -> list[str]:
    """Fields worth a vector search: activity is rarely written, and would cost every line."""
    return [c for c in ("equipment", "failure_mode") if result.fields[c].code is None]


def _vector_terms(norm: str, selected: Sequence[list[Match]], limit: int = 6) -> list[str]:
    """Words no catalog form explained, and adjacent pairs of them."""
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
    return terms[:limit]


def _record(result: ParseResult) -> None:
    """Note every field decision for the normalization review log."""
    result.decisions = [
        (category, value.surface, value.code, value.confidence, value.method)
        for category, value in result.fields.items()
        if value.code is not None
    ]


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
