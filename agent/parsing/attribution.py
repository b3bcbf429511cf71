"""Which field each word of a coded notification speaks for, learned by EM.

A notification's text mixes words for its location, equipment, failure mode and priority (and
filler). Each word occurrence is treated as emitted by one of the notification's codes or by a
background of common words; EM finds, per field, soft counts of how often a word was said for
each code (a labeled-topic-model reading). "트랜스" in notes coded {TRF, D15} and {TRF, D02} ends
up a transformer word, not a failure-mode word, because only the transformer explains both.
Vectorized with numpy over (notification, word) pairs: a large history fits in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

# Additive smoothing of every label's word distribution.
_ETA = 0.01
# The background's weight against the codes: filler ("found", "발생") goes there.
_BACKGROUND = 1.0
ITERATIONS = 8

Doc = tuple[Mapping[str, float], Mapping[str, str], float]  # features, codes by field, weight


def attribute(
    docs: Sequence[Doc], fields: Sequence[str], iterations: int = ITERATIONS
) -> dict[str, dict[str, dict[str, float]]]:
    """Per field, per feature, the soft count of each code it was said for."""
    vocab: dict[str, int] = {}
    doc_idx: list[int] = []
    feat_idx: list[int] = []
    weights: list[float] = []
    for d, (feats, _, weight) in enumerate(docs):
        for f, w in feats.items():
            doc_idx.append(d)
            feat_idx.append(vocab.setdefault(f, len(vocab)))
            weights.append(w * weight)
    if not doc_idx:
        return {f: {} for f in fields}
    n_vocab = len(vocab)
    pair_doc = np.asarray(doc_idx, dtype=np.int64)
    pair_feat = np.asarray(feat_idx, dtype=np.int64)
    pair_w = np.asarray(weights, dtype=np.float64)
    code_ids: dict[str, dict[str, int]] = {f: {} for f in fields}
    per_field: list[tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    for field in fields:
        ids = code_ids[field]
        doc_code = np.asarray(
            [
                ids.setdefault(c, len(ids)) if (c := codes.get(field)) else -1
                for _, codes, _ in docs
            ],
            dtype=np.int64,
        )
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
            n_codes = max(1, len(code_ids[fields[i]]))
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

    names = list(vocab)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for i, (present, code, _) in enumerate(per_field):
        codes = list(code_ids[fields[i]])
        table: dict[str, dict[str, float]] = {}
        mass = pair_w * resp[i]
        keep = present & (mass > 1e-6)
        for f_id, c_id, m in zip(pair_feat[keep], code[keep], mass[keep], strict=True):
            row = table.setdefault(names[int(f_id)], {})
            key = codes[int(c_id)]
            row[key] = row.get(key, 0.0) + float(m)
        out[fields[i]] = table
    return out
