"""How people shorten a catalog's own location names, derived from the names alone.

A names-only catalog says "Plant 1 Utility Building" and "1공장 유틸리티동"; technicians write
"P1 utility", "util bldg" and "1공 유틸동". From the catalog's structure (a child's name that
starts with its parent's) and the abbreviation table of lexicon.yaml, every location gets its
remainder ("utility building": the same words in every plant, settled by the plant named beside
it), its common abbreviations, and the remainder without a generic head noun ("utility"). Nothing
here knows a plant: it reads the names it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from adapters.domain import CatalogEntry
from agent.parsing.textnorm import is_hangul, normalize


def _swap(form: str, long: str, short: str) -> str | None:
    """The form with one abbreviation applied, or None when it does not occur."""
    if is_hangul(long):
        if long not in form:
            return None
        out = form.replace(long, short)
    else:
        pattern = rf"(?<![a-z0-9]){re.escape(long)}(?![a-z])"
        if not re.search(pattern, form):
            return None
        out = re.sub(pattern, short, form)
    out = " ".join(out.split())
    # A lone Hangul syllable is no name ("공장" -> "공"); "4공" is.
    if any(is_hangul(tok) and len(tok) < 2 for tok in out.split()):
        return None
    return out


def _variants(form: str, abbreviations: Mapping[str, tuple[str, ...]]) -> set[str]:
    """The form with each abbreviation applied, one at a time and all together."""
    out = {form}
    for long, shorts in abbreviations.items():
        for variant in list(out):
            for short in shorts:
                swapped = _swap(variant, long, short)
                if swapped:
                    out.add(swapped)
    return out


def _remainders(entry: CatalogEntry, parent: CatalogEntry | None) -> set[str]:
    if parent is None:
        return set()
    out: set[str] = set()
    for name in (entry.name_ko, entry.name_en):
        n = normalize(name)
        for p in (normalize(parent.name_ko), normalize(parent.name_en)):
            if p and n.startswith(p + " ") and len(n) > len(p) + 1:
                out.add(n[len(p) + 1 :])
    return out


def _headless(form: str, heads: frozenset[str], taken: set[str]) -> str | None:
    """'utility building' -> 'utility': only when what is left names nothing else."""
    words = form.split()
    if len(words) < 2 or words[-1] not in heads:
        return None
    rest = " ".join(words[:-1])
    short = len(rest) < 2 if is_hangul(rest) else len(rest) < 4
    if short or rest in taken or rest.isdigit():
        return None
    return rest


def _acronym(form: str) -> str | None:
    """'crude distillation unit' -> 'cdu': the initials of an English name of three words or
    more (a name with a number or Hangul has none: "plant 1 building a" is no "p1ba"). Two
    letters are too few: a form also matches with an English ending, and "Packing line" as "pl"
    read the "pls" of "pls check" as the place (the unseen-plant benchmark)."""
    words = form.split()
    if len(words) < 3 or not all(w.isascii() and w.isalpha() for w in words):
        return None
    return "".join(w[0] for w in words)


def _ends_in_name(form: str, names: set[str]) -> bool:
    """Whether the last word or words of a form are a name in the catalog on their own."""
    words = form.split()
    return any(" ".join(words[i:]) in names for i in range(1, len(words)))


def location_shorthand(
    entries: Iterable[CatalogEntry],
    abbreviations: Mapping[str, tuple[str, ...]],
    heads: Iterable[str],
) -> Iterator[tuple[CatalogEntry, str]]:
    """(location, form) pairs: remainders, abbreviations and head-less remainders."""
    entries = list(entries)
    by_code = {e.code: e for e in entries if e.category == "location"}
    # Any name of any category: a head-less remainder that is also an equipment name
    # ("compressor room" -> "compressor") would read a machine as a place.
    names = {normalize(f) for e in entries for f in e.surface_forms()}
    head_set = frozenset(normalize(h) for h in heads)
    for entry in by_code.values():
        own = {normalize(entry.name_ko), normalize(entry.name_en)} - {""}
        rest = _remainders(entry, by_code.get(entry.parent or ""))
        forms: set[str] = set()
        for form in own | rest:
            forms |= _variants(form, abbreviations)
        # The place's own name too ("Cooling tower area" is "cooling tower", "냉각탑 구역"
        # "냉각탑"), unless what is left ends in another name: "plant 8 compressor" is a machine
        # of plant 8, not its compressor room.
        for form in list(rest | own):
            headless = _headless(form, head_set, names)
            if headless and form in own and _ends_in_name(headless, names):
                headless = None
            if headless:
                forms |= _variants(headless, abbreviations)
            # Its initials, with and without the head ("CDU" for Crude distillation unit, "WTP"
            # for Wastewater treatment plant), unless they spell a name or a table's word; not
            # of a head-less form refused above ("boiler feed pump" of a pump room is a machine).
            for whole in (form, headless):
                short = _acronym(whole) if whole else None
                if short and short not in names and short not in abbreviations:
                    forms.add(short)
        for form in sorted(forms - own):
            yield entry, form


def equipment_shorthand(
    entries: Iterable[CatalogEntry], abbreviations: Mapping[str, tuple[str, ...]]
) -> Iterator[tuple[CatalogEntry, str]]:
    """(equipment, form) pairs: each name with its words shortened as technicians shorten them
    ("Shutdown valve" -> "shutdown vlv", "Compressor" -> "compr"), and the head noun of a name
    of several words when no other machine shares it ("Storage tank" -> "tank", "탱크")."""
    equipment = [e for e in entries if e.category == "equipment"]
    names = {normalize(f) for e in equipment for f in (e.name_en, e.name_ko, *e.synonyms)}
    # The head noun of each name of several words, and the machines it heads.
    heads_of = {
        e.code: {w[-1] for raw in (e.name_en, e.name_ko) if len(w := normalize(raw).split()) > 1}
        for e in equipment
    }
    headed: dict[str, set[str]] = {}
    for code, heads in heads_of.items():
        for head in heads:
            headed.setdefault(head, set()).add(code)
    for entry in equipment:
        forms: set[str] = set()
        for raw in (entry.name_en, *entry.synonyms):
            form = normalize(raw)
            if form and not is_hangul(form):
                forms |= _variants(form, abbreviations) - {form}
        for head in heads_of[entry.code]:
            # A head of one machine only, and no machine's name by itself: "tank" is the
            # storage tank where the catalog has no other tank, never a "Tank" of its own.
            long_enough = len(head) >= 3 or (is_hangul(head) and len(head) >= 2)
            if headed[head] == {entry.code} and head not in names and long_enough:
                forms |= _variants(head, abbreviations)
        for form in sorted(forms - names):
            yield entry, form
