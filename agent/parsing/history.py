"""History as a teacher: which words of coded notifications point to which code, per field.

A smoothed naive-Bayes reading of the plant's own coded notifications (and of corrections made in
use): for each field, the evidence of a feature for a code is log P(code | feature) / P(code),
with P(code | feature) pulled toward the prior by a Dirichlet pseudo-count, so a word seen once
says little and a word spread over every code says nothing. Knows no catalog: codes are whatever
the history uses.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiwipiepy import Kiwi

from agent.parsing.attribution import Notes, attribute
from agent.parsing.terms import features, features_of, words
from agent.parsing.textnorm import normalize

FIELDS: tuple[str, ...] = ("location", "equipment", "failure_mode", "priority")
# How many coded examples a correction counts as: a supervisor's word outweighs one old note.
CORRECTION_WEIGHT = 4.0
# How many recent coded texts measure the catalog's own reliability per field.
SAMPLES = 300
# Dirichlet pseudo-count of a word's evidence (its soft count after field attribution).
EVIDENCE_PSEUDO = 5.0
# Posterior temperature: 1 was found calibrated on a validation split inside the benchmark's
# training period (never on its test period).
TEMPERATURE = 1.0


@dataclass(frozen=True)
class Evidence:
    """The history's opinion on one field: best code, its posterior and the words behind it."""

    code: str
    probability: float
    posterior: Mapping[str, float]
    words: tuple[str, ...]
    strength: float  # the best code's summed evidence in nats, before the prior
    support: float = 0.0  # P(code | its strongest single word), smoothed


@dataclass(frozen=True)
class Example:
    """A text with the codes a person gave it (None where the field was not coded)."""

    text: str
    codes: Mapping[str, str | None]
    weight: float = 1.0


class _FieldModel:
    def __init__(self) -> None:
        self.codes: dict[str, float] = defaultdict(float)
        self.total = 0.0
        self.counts: dict[str, dict[str, float]] = {}
        self.feature_total: dict[str, float] = {}
        self.label_total: dict[str, float] = defaultdict(float)
        # The code prior and its logs, re-derived only when the coded counts change: per parse
        # they were a dict over every code of the field, twice (most of `evidence`'s time).
        self._prior: tuple[tuple[float, int], dict[str, float], dict[str, float]] | None = None

    def _priors(self) -> tuple[dict[str, float], dict[str, float]]:
        key = (self.total, len(self.codes))
        if self._prior is None or self._prior[0] != key:
            prior = {c: n / self.total for c, n in self.codes.items() if n > 0}
            self._prior = (key, prior, {c: math.log(p) for c, p in prior.items()})
        return self._prior[1], self._prior[2]

    def set_counts(self, table: dict[str, dict[str, float]]) -> None:
        self.counts = table
        self.feature_total = {f: sum(row.values()) for f, row in table.items()}
        self.label_total = defaultdict(float)
        for row in table.values():
            for code, n in row.items():
                self.label_total[code] += n

    def emission(self, f: str, code: str, vocab: int) -> float:
        """How likely this code's notes are to say f (smoothed), for absorbing a new note."""
        row = self.counts.get(f)
        n = row.get(code, 0.0) if row is not None else 0.0
        return (n + 0.1) / (self.label_total.get(code, 0.0) + 0.1 * vocab)

    def absorb(self, f: str, code: str, mass: float) -> None:
        row = self.counts.setdefault(f, {})
        row[code] = row.get(code, 0.0) + mass
        self.feature_total[f] = self.feature_total.get(f, 0.0) + mass
        self.label_total[code] += mass

    def evidence(self, feats: Mapping[str, float]) -> Evidence | None:
        if self.total <= 0 or not feats:
            return None
        beta = EVIDENCE_PSEUDO
        prior, log_prior = self._priors()
        base = 0.0
        extra: dict[str, float] = defaultdict(float)
        contrib: dict[str, list[tuple[float, str]]] = defaultdict(list)
        strongest: dict[str, float] = {}
        for f, w in feats.items():
            n_f = self.feature_total.get(f)
            if not n_f:
                continue
            # log P(c|f)/P(c) with P(c|f) smoothed toward P(c): 0 for an uninformative word.
            # Codes never seen with f all get log(beta / (n_f + beta)); only the others vary.
            unseen = math.log(beta / (n_f + beta))
            base += w * unseen
            for c, n in self.counts[f].items():
                if c not in prior:
                    continue
                lift = math.log((n + beta * prior[c]) / ((n_f + beta) * prior[c]))
                extra[c] += w * (lift - unseen)
                if lift > 0.5 and not f.startswith("#"):
                    contrib[c].append((w * lift, f))
                    alone = (n + prior[c]) / (n_f + 1.0)
                    # A word supports a code it makes clearly likelier than its base rate.
                    if alone >= 1.5 * prior[c] and alone > strongest.get(c, 0.0):
                        strongest[c] = alone
        score = {c: base + extra.get(c, 0.0) for c in prior}
        best = max(score, key=lambda c: score[c])
        if score[best] <= 0.0:
            return None
        logits = {c: (lp + score[c]) / TEMPERATURE for c, lp in log_prior.items()}
        top = max(logits.values())
        exp = {c: math.exp(v - top) for c, v in logits.items()}
        norm = sum(exp.values())
        posterior = {c: v / norm for c, v in exp.items()}
        best = max(posterior, key=lambda c: posterior[c])
        ranked = sorted(contrib[best], reverse=True)
        words = tuple(f for _, f in ranked[:4])
        support = strongest.get(best, 0.0)
        return Evidence(best, posterior[best], posterior, words, score[best], support)


class HistoryModel:
    """Per-field term/code evidence learned from coded notifications and corrections.

    Notifications are kept as feature sets; the field attribution (EM, `attribution.py`) is fitted
    lazily on first use, and notes added afterwards are absorbed with the fitted model (one
    E-step each) until they are a fifth of what was fitted, when it is refitted. A fitted model
    is saved and read back by `history_store`.
    """

    def __init__(self, kiwi: Kiwi | None = None) -> None:
        """An empty model; `kiwi` reads Korean words (the catalog's instance, or a plain one)."""
        self.kiwi = kiwi
        self.fields = {f: _FieldModel() for f in FIELDS}
        self.examples = 0
        self.remembered: dict[tuple[str, str], str] = {}
        # Ids of the stored corrections already taught, so one read from another process's
        # store (or twice) is not counted twice.
        self.taught: set[int] = set()
        self._notes = Notes(FIELDS)
        # The latest coded texts, for measuring how often the catalog alone agrees with people.
        self.samples: deque[tuple[str, dict[str, str]]] = deque(maxlen=SAMPLES)
        self._fitted = 0
        self._vocab = 1
        self._background: dict[str, float] = defaultdict(float)
        self._background_total = 0.0

    def add(self, examples: Iterable[Example]) -> int:
        """Learn from more coded texts; returns how many were used."""
        used = 0
        for ex in examples:
            feats = features(ex.text, self.kiwi)
            codes = {f: c for f, c in ex.codes.items() if c and f in self.fields}
            if not feats or not codes:
                continue
            self._notes.add(feats, codes, ex.weight)
            if ex.weight == 1.0:
                self.samples.append((ex.text, codes))
            for field, code in codes.items():
                self.fields[field].codes[code] += ex.weight
                self.fields[field].total += ex.weight
            if self._fitted:
                self._absorb(feats, codes, ex.weight)
            used += 1
        self.examples += used
        if self._fitted and len(self._notes) > 1.2 * self._fitted:
            self._fitted = 0  # refit on next use
        return used

    def fit(self) -> None:
        """Fit the field attribution now (otherwise it is fitted on first use)."""
        tables = attribute(self._notes)
        for field, model in self.fields.items():
            model.set_counts(tables[field])
        self._background = defaultdict(float, self._notes.background())
        self._background_total = sum(self._background.values())
        self._vocab = max(1, len(self._notes.names))
        self._fitted = len(self._notes)

    def _absorb(self, feats: Mapping[str, float], codes: Mapping[str, str], weight: float) -> None:
        """Add one note's words to the fields that, by the fitted model, most likely said them."""
        for f, w in feats.items():
            bg = (
                0.5
                * (self._background.get(f, 0.0) + 0.1)
                / (self._background_total + 0.1 * self._vocab)
            )
            scores = {
                field: self.fields[field].emission(f, code, self._vocab)
                for field, code in codes.items()
            }
            norm = sum(scores.values()) + bg
            for field, score in scores.items():
                self.fields[field].absorb(f, codes[field], w * weight * score / norm)
            self._background[f] += w * weight
            self._background_total += w * weight

    def correct(self, text: str, field: str, code: str) -> None:
        """A person's correction: evidence for the code, and the exact text remembered."""
        self.add([Example(text, {field: code}, CORRECTION_WEIGHT)])
        self.remembered[(field, _key(text))] = code

    def mass(self, feature: str, field: str) -> float:
        """How much of the history's use of a word the attribution gave to a field."""
        if not self._fitted:
            self.fit()
        return self.fields[field].feature_total.get(feature, 0.0)

    def recall(self, text: str, field: str) -> str | None:
        """The code a person gave this very text for this field, if any."""
        return self.remembered.get((field, _key(text)))

    def evidence(
        self, text: str, hide: Mapping[str, Sequence[tuple[int, int]]] | None = None
    ) -> dict[str, Evidence]:
        """Per field, the history's best code for a text (fields without evidence left out);
        `hide` gives per field spans of the normalized text whose words are not its evidence."""
        if not self.examples:
            return {}
        if not self._fitted:
            self.fit()
        toks = words(normalize(text), self.kiwi)
        feats = features_of([w for w, _, _ in toks])
        out: dict[str, Evidence] = {}
        for name, model in self.fields.items():
            spans = hide.get(name) if hide else None
            own = feats
            if spans:
                own = features_of(
                    [w for w, s, e in toks if not any(a <= s and e <= b for a, b in spans)]
                )
            ev = model.evidence(own)
            if ev is not None:
                out[name] = ev
        return out


def _key(text: str) -> str:
    return " ".join(normalize(text).split())


def observed_text(title: str, details: str) -> str:
    """What a technician wrote about a notification (the resolution came later)."""
    return f"{title} {details}".strip()


def examples_of(notifications: Iterable[Any]) -> Iterator[Example]:
    """Coded notifications as training examples."""
    for n in notifications:
        codes = {f: getattr(n, f) for f in FIELDS}
        yield Example(observed_text(n.title, n.details), codes)
