"""Which field each word of a coded notification speaks for, learned by EM.

A notification's text mixes words for its location, equipment, failure mode and priority (and
filler). Each word occurrence is treated as emitted by one of the notification's codes or by a
background of common words; EM finds, per field, soft counts of how often a word was said for
each code (a labeled-topic-model reading). "트랜스" in notes coded {TRF, D15} and {TRF, D02} ends
up a transformer word, not a failure-mode word, because only the transformer explains both.
Vectorized with numpy over (notification, word) pairs: a large history fits in seconds.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

# Additive smoothing of every label's word distribution.
_ETA = 0.01
# The background's weight against the codes: filler ("found", "발생") goes there.
_BACKGROUND = 1.0
ITERATIONS = 8


class Notes:
    """Coded notes as flat columns, the form EM reads.

    A dict of features per note cost ~3.4 KB each (100k notes: 345 MB, and the fit's Python
    lists of pairs another 235 MB that the allocator kept); here a note is its (feature id,
    weight) pairs, 12 bytes each, and one code id per field. Ids are given in order of first
    appearance, as the fit numbers them.
    """

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        self.names: list[str] = []  # feature id -> feature
        self._ids: dict[str, int] = {}
        self.code_names: dict[str, list[str]] = {f: [] for f in self.fields}
        self._code_ids: dict[str, dict[str, int]] = {f: {} for f in self.fields}
        self.pair_doc = array("i")
        self.pair_feat = array("i")
        self.pair_weight = array("d")  # a feature's weight times its note's
        self.codes: dict[str, array[int]] = {f: array("i") for f in self.fields}

    def __len__(self) -> int:
        return len(self.codes[self.fields[0]]) if self.fields else 0

    def add(self, feats: Mapping[str, float], codes: Mapping[str, str], weight: float) -> None:
        """One note: its features with their weights, its code per field, its weight."""
        doc = len(self)
        for f, w in feats.items():
            fid = self._ids.get(f)
            if fid is None:
                fid = self._ids[f] = len(self.names)
                self.names.append(f)
            self.pair_doc.append(doc)
            self.pair_feat.append(fid)
            self.pair_weight.append(w * weight)
        for field in self.fields:
            code = codes.get(field)
            if not code:
                self.codes[field].append(-1)
                continue
            ids = self._code_ids[field]
            cid = ids.get(code)
            if cid is None:
                cid = ids[code] = len(self.code_names[field])
                self.code_names[field].append(code)
            self.codes[field].append(cid)

    def background(self) -> dict[str, float]:
        """Each feature's total weight over all notes."""
        sums = np.bincount(
            np.asarray(self.pair_feat, dtype=np.int64),
            weights=np.asarray(self.pair_weight, dtype=np.float64),
            minlength=len(self.names),
        )
        return dict(zip(self.names, sums.tolist(), strict=True))


def attribute(notes: Notes, iterations: int = ITERATIONS) -> dict[str, dict[str, dict[str, float]]]:
    """Per field, per feature, the soft count of each code it was said for."""
    fields = notes.fields
    if not len(notes.pair_doc):
        return {f: {} for f in fields}
    n_vocab = len(notes.names)
    pair_doc = np.asarray(notes.pair_doc, dtype=np.int64)
    pair_feat = np.asarray(notes.pair_feat, dtype=np.int64)
    pair_w = np.asarray(notes.pair_weight, dtype=np.float64)
    per_field: list[tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    for field in fields:
        doc_code = np.asarray(notes.codes[field], dtype=np.int64)
        pair_code = doc_code[pair_doc]
        present = pair_code >= 0
        keys = np.where(present, pair_code * n_vocab + pair_feat, -1)
        _, inverse = np.unique(keys, return_inverse=True)
        per_field.append((present, pair_code, inverse.reshape(-1)))

    # Start: every occurrence shared evenly among the doc's codes and the background.
    share = np.stack([p for p, _, _ in per_field]).astype(np.float64)
    resp = share / (share.sum(axis=0) + 1.0)
    resp_bg = 1.0 / (share.sum(axis=0) + 1.0)
    for _ in range(iterations):
        scores = np.zeros_like(resp)
        for i, (present, code, inverse) in enumerate(per_field):
            mass = pair_w * resp[i]
            by_key = np.bincount(inverse, weights=mass)
            n_codes = max(1, len(notes.code_names[fields[i]]))
            by_code = np.bincount(
                np.where(present, code, 0), weights=mass * present, minlength=n_codes
            )
            totals = by_code[np.where(present, code, 0)]
            scores[i] = np.where(present, (by_key[inverse] + _ETA) / (totals + _ETA * n_vocab), 0.0)
        bg_mass = pair_w * resp_bg
        bg_by_feat = np.bincount(pair_feat, weights=bg_mass, minlength=n_vocab)
        bg = _BACKGROUND * (bg_by_feat[pair_feat] + _ETA) / (bg_mass.sum() + _ETA * n_vocab)
        norm = scores.sum(axis=0) + bg
        resp = scores / norm
        resp_bg = bg / norm

    names = notes.names
    out: dict[str, dict[str, dict[str, float]]] = {}
    for i, (present, code, _) in enumerate(per_field):
        codes = notes.code_names[fields[i]]
        table: dict[str, dict[str, float]] = {}
        mass = pair_w * resp[i]
        keep = present & (mass > 1e-6)
        for f_id, c_id, m in zip(pair_feat[keep], code[keep], mass[keep], strict=True):
            row = table.setdefault(names[int(f_id)], {})
            key = codes[int(c_id)]
            row[key] = row.get(key, 0.0) + float(m)
        out[fields[i]] = table
    return out
