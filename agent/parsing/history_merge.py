"""One confidence per field from catalog matches and the history's evidence."""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING

from kiwipiepy import Kiwi

from adapters.domain import CatalogEntry
from agent.parsing.history import FIELDS, Evidence, HistoryModel
from agent.parsing.terms import words
from agent.parsing.textnorm import normalize

if TYPE_CHECKING:
    from agent.parsing.parser import CatalogParser, FieldValue

# The history acts only on a word that alone makes its code this likely (P(code | word)).
SUPPORT_MIN = 0.35
# Below this posterior the history's guess is not put on a field the catalog left empty.
FILL_FLOOR = 0.15
# ... and on a text that asks for an activity (maintenance asked for, no failure named).
REQUEST_FLOOR = 0.6
# A child of the catalog's code needs this posterior ("cw pump" → cooling water pump).
REFINE_FLOOR = 0.5
# Overruling a catalog match takes a stronger word.
OVERRULE_SUPPORT = 0.6
# Naive Bayes counts correlated words ("close", "to close") as independent witnesses, so its
# odds against the catalog's code run to millions to one; no history says more than this.
NB_FLOOR = 0.01
# Filling a place or an urgency the text did not state takes a word this telling.
PLACE_SUPPORT = 0.6


def combine_history(
    history: HistoryModel,
    text: str,
    fields: MutableMapping[str, FieldValue],
    by_key: Mapping[tuple[str, str], CatalogEntry],
    reliability: Mapping[str, float],
    said: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    read: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Fold the history's evidence (and remembered corrections) into the catalog's fields.

    The history is the teacher of what the catalog cannot read, not a second opinion on what
    it read plainly: it fills an empty field only on a word that points to a code (not on the
    prior: an unsaid priority stays unsaid), refines a catalog code to a child only on words
    beyond the catalog's own match ("cw pump" → cooling water pump; "2공장" stays plant 2), and
    overrules a catalog match only when its own word is strong and the combined odds agree.
    `said` gives per field the spans of the normalized text that are not its evidence; `read`
    every surface the catalog read per field (not only the one it chose: the "urgent" of a "not
    urgent" left aside for a later "when possible" is no new word for urgency).
    """
    from agent.parsing.parser import FieldValue

    evidence = history.evidence(text, said)
    # What the catalog read for one field is not evidence for another: in a history where every
    # Seoul job was low priority, "seoul plant, high" still says high.
    claimed = {f: v.surface for f, v in fields.items() if v.code is not None and v.surface}
    for field in FIELDS:
        recalled = history.recall(text, field)
        if recalled is not None and (field, recalled) in by_key:
            fields[field] = FieldValue(recalled, 0.97, "correction", text.strip()[:60])
            continue
        ev = evidence.get(field)
        if ev is None or ev.support < SUPPORT_MIN or (field, ev.code) not in by_key:
            continue
        current = fields[field]
        posterior = {c: p for c, p in ev.posterior.items() if (field, c) in by_key}
        others = [surface for f, surface in claimed.items() if f != field]
        free = [w for w in ev.words if not _claimed(w, others, history.kiwi)]
        if not free:
            continue
        if current.code is None:
            floor = FILL_FLOOR
            if field == "failure_mode" and "activity" in fields and fields["activity"].code:
                # A request for work ("점검 요청합니다", "grease the bearings") names its
                # purpose; a failure it did not name takes a telling word, not "요청" or "on".
                floor = REQUEST_FLOOR
            if ev.probability >= floor and _may_fill(field, ev, history):
                surface = " ".join(ev.words[:2])
                fields[field] = FieldValue(ev.code, ev.probability, "history", surface, ev.words)
            continue
        # Words beyond what the catalog read, for this field or another: "pump leaking" is the
        # equipment's "pump" and the failure mode's "leaking", no sign of a kind of pump.
        mine = read.get(field, ()) if read else ()
        beyond = [
            w for w in free if not _claimed(w, [*others, current.surface, *mine], history.kiwi)
        ]
        if ev.code == current.code or not beyond:
            agree = posterior.get(current.code, 0.0)
            confidence = 1.0 - (1.0 - current.confidence) * (1.0 - agree)
            fields[field] = FieldValue(
                current.code, confidence, current.method, current.surface, ev.words
            )
            continue
        if _descends(by_key, field, ev.code, current.code):
            # A plant's area, like a place it did not name, comes from a word of places.
            if field == "location" and not _place_word(beyond[0], history):
                continue
            if ev.probability >= REFINE_FLOOR and _kind_word(
                field, beyond, text, current.surface, history.kiwi
            ):
                fields[field] = FieldValue(ev.code, ev.probability, "history", beyond[0], ev.words)
            continue
        # The catalog as a classifier right `a` of the time: its code's odds times a(K-1)/(1-a).
        a = min(0.995, reliability.get(field, 0.5))
        bonus = math.log(a * max(1, len(posterior) - 1) / (1.0 - a)) * current.confidence
        floor = min(posterior.values()) * 0.5
        theirs = math.log(ev.probability)
        ours = math.log(max(posterior.get(current.code, floor), NB_FLOOR)) + bonus
        if ev.support >= OVERRULE_SUPPORT and theirs > ours:
            odds = 1.0 / (1.0 + math.exp(ours - theirs))
            fields[field] = FieldValue(ev.code, odds, "history", beyond[0], ev.words)


def _may_fill(field: str, ev: Evidence, history: HistoryModel) -> bool:
    """Where a job is, like how urgent it is, is said, not inferred from the machine: the
    history names a place the text did not only on a word that alone makes it likely (the unit's
    own nickname), never on "pump" because most pumps sit in one area. A place's word is one the
    history's notes used for where more than for anything else (`_place_word`): "steam" or
    "cooling" mostly say which machine, though most steam jobs were in the boiler room."""
    if field not in ("location", "priority"):
        return True
    if ev.support < PLACE_SUPPORT:
        return False
    return field != "location" or _place_word(ev.words[0], history)


def _place_word(word: str, history: HistoryModel) -> bool:
    """Whether the history's notes used a word for where more than for anything else: "steam"
    mostly says which machine, "need" how soon, "positioner" what failed."""
    own = history.mass(word, "location")
    return all(own > history.mass(word, f) for f in FIELDS if f != "location")


def _kind_word(field: str, beyond: list[str], text: str, surface: str, kiwi: Kiwi | None) -> bool:
    """Whether a word says which kind of the catalog's equipment it is: a kind is named before
    its head ("cw pump", "dosing pmp", "에어 컴프레셔"); a word after it names a part or a
    symptom ("pump bearing hot", "밸브 글랜드에서 새요"), whatever kind the history saw it with."""
    if field != "equipment":
        return True
    norm = normalize(text)
    at = norm.find(surface.lower()) if surface else -1
    if at < 0:
        return True
    # "coupling guard on pump": a preposition between ends the compound.
    lead = {w for w, _, _ in words(norm[:at], kiwi, function_words=True)[-2:]}
    return any(all(part in lead for part in w.split()) for w in beyond)


def catalog_reliability(parser: CatalogParser, history: HistoryModel) -> dict[str, float]:
    """Per field, the share of recent coded texts whose catalog-only code matches the coder's
    (an ancestor of it counts half), smoothed toward one half."""
    hits: dict[str, float] = dict.fromkeys(FIELDS, 1.0)
    seen: dict[str, float] = dict.fromkeys(FIELDS, 2.0)
    for text, codes in list(history.samples):
        result, _ = parser._parse(text, normalize(text), teach=False)
        for field, coded in codes.items():
            got = result.fields[field].code
            if field not in hits or got is None:
                continue
            seen[field] += 1.0
            if got == coded:
                hits[field] += 1.0
            elif _descends(parser.by_key, field, coded, got):
                hits[field] += 0.5
    return {f: hits[f] / seen[f] for f in FIELDS}


def _claimed(word: str, surfaces: list[str], kiwi: Kiwi | None) -> bool:
    """Whether every part of a history term ("압축기 과열") is something the catalog read for
    another field."""
    return all(any(_within(part, o, kiwi) for o in surfaces) for part in word.split())


def _within(word: str, surface: str, kiwi: Kiwi | None) -> bool:
    """Whether a history word is part of what the catalog matched (spaces ignored), as written
    or as the morphemes the history reads ("급하" is inside "급한거 아님"). `kiwi` is the
    history's own model (required: a forgotten one loads a second model, ~250 MB)."""
    if not surface:
        return False
    if word.replace(" ", "") in surface.lower().replace(" ", ""):
        return True
    forms = {w for w, _, _ in words(normalize(surface), kiwi)}
    return all(part in forms for part in word.split())


def _descends(
    by_key: Mapping[tuple[str, str], CatalogEntry], field: str, code: str, ancestor: str
) -> bool:
    seen: set[str] = set()
    entry = by_key.get((field, code))
    while entry is not None and entry.parent and entry.parent not in seen:
        if entry.parent == ancestor:
            return True
        seen.add(entry.parent)
        entry = by_key.get((field, entry.parent))
    return False
