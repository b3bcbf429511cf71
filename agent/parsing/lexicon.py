"""How technicians say things that catalogs rarely list: maintenance language, not plant data.

Each concept names the catalog entry it belongs to by *anchors* (the standard ISO 14224 / plant
terms a catalog uses for it, e.g. "fail to start"); the concept's phrases then work for whatever
code that catalog gives the entry. A phrase that the catalog already uses for another code of the
same category is dropped: the plant's own words always win.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from adapters.domain import CatalogEntry
from agent.parsing.shorthand import equipment_shorthand, location_shorthand
from agent.parsing.textnorm import normalize


@dataclass(frozen=True)
class Concept:
    """A meaning with the catalog terms that identify it and the ways people write it."""

    category: str
    anchors: tuple[str, ...]
    phrases: tuple[str, ...]
    catch_all: bool = False  # what a text says when it names no particular failure


@dataclass(frozen=True)
class _Table:
    concepts: tuple[Concept, ...]
    tag_prefixes: dict[str, tuple[str, ...]]
    abbreviations: dict[str, tuple[str, ...]]
    location_heads: tuple[str, ...]
    equipment_abbreviations: dict[str, tuple[str, ...]]


def _load() -> _Table:
    """The phrase table (lexicon.yaml beside this module): data, edited without touching code."""
    raw: dict[str, Any] = yaml.safe_load(
        resources.files(__package__).joinpath("lexicon.yaml").read_text(encoding="utf-8")
    )
    concepts = tuple(
        Concept(
            str(c["category"]),
            tuple(map(str, c["anchors"])),
            tuple(map(str, c["phrases"])),
            bool(c.get("catch_all", False)),
        )
        for c in raw["concepts"]
    )
    return _Table(
        concepts,
        {str(k): tuple(map(str, v)) for k, v in raw["tag_prefixes"].items()},
        {str(k): tuple(map(str, v)) for k, v in raw["abbreviations"].items()},
        tuple(map(str, raw["location_heads"])),
        {str(k): tuple(map(str, v)) for k, v in raw["equipment_abbreviations"].items()},
    )


_TABLE = _load()
CONCEPTS = _TABLE.concepts
TAG_PREFIXES = _TABLE.tag_prefixes


def _forms(entry: CatalogEntry) -> set[str]:
    return {normalize(f) for f in (entry.name_ko, entry.name_en, *entry.synonyms)}


def resolve(
    anchors: Iterable[str], category: str, entries: Iterable[CatalogEntry]
) -> CatalogEntry | None:
    """The catalog entry of a category whose names include the earliest-listed anchor."""
    pool = [e for e in entries if e.category == category]
    for anchor in anchors:
        key = normalize(anchor)
        hits = [e for e in pool if key in _forms(e)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            # Several codes share the word: the most general one (no parent) is meant.
            top = [e for e in hits if not e.parent]
            if len(top) == 1:
                return top[0]
    return None


def catch_all_codes(entries: Iterable[CatalogEntry]) -> frozenset[tuple[str, str]]:
    """(category, code) of the catalog's catch-all entries ("breakdown"), where it has them."""
    entries = list(entries)
    found = (resolve(c.anchors, c.category, entries) for c in CONCEPTS if c.catch_all)
    return frozenset((e.category, e.code) for e in found if e is not None)


def extra_forms(entries: Iterable[CatalogEntry]) -> Iterator[tuple[CatalogEntry, str]]:
    """(entry, phrase) pairs the lexicon adds to a catalog."""
    entries = list(entries)
    taken: dict[tuple[str, str], str] = {}
    for e in entries:
        for f in _forms(e):
            taken.setdefault((e.category, f), e.code)
    for concept in CONCEPTS:
        entry = resolve(concept.anchors, concept.category, entries)
        if entry is None:
            continue
        for phrase in concept.phrases:
            key = (concept.category, normalize(phrase))
            owner = taken.get(key)
            if owner is not None and owner != entry.code:
                continue
            taken[key] = entry.code
            yield entry, phrase
    # The catalog's own machine names as written in shorthand ("shutdown vlv", "emergency gen"),
    # where no other code already owns the form.
    for entry, form in equipment_shorthand(entries, _TABLE.equipment_abbreviations):
        key = ("equipment", form)
        if taken.get(key, entry.code) == entry.code:
            taken[key] = entry.code
            yield entry, form
    # Shorthand of the catalog's own place names may name several codes ("building a" in every
    # plant): the place named beside it settles which, as for the catalog's own "A동".
    for entry, form in location_shorthand(entries, _TABLE.abbreviations, _TABLE.location_heads):
        owner = taken.get(("location", form))
        if owner is None or owner == entry.code:
            yield entry, form


def tag_equipment(tag: str, entries: Iterable[CatalogEntry]) -> CatalogEntry | None:
    """The equipment class a tag's letters stand for (P-101A: pump), if the catalog has it."""
    letters = ""
    for ch in tag.upper():
        if not ch.isalpha():
            break
        letters += ch
    anchors = TAG_PREFIXES.get(letters)
    return resolve(anchors, "equipment", entries) if anchors else None
