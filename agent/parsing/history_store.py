"""A fitted history kept in the data dir, so each serving worker and each restart reads it back
instead of reading every coded notification with Kiwi again and refitting (at 100k notifications
that was ~50 s of CPU per worker).

The snapshot is named by a fingerprint of all it was learned from (the catalog, whose words Kiwi
keeps whole; every coded text in order; the corrections; the code that reads and fits them), so
a changed history is relearned, never read stale. numpy's `.npz` without pickles: a file in the
data dir can be wrong but cannot run code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import zipfile
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import kiwipiepy
import numpy as np
import numpy.typing as npt
from kiwipiepy import Kiwi

from adapters.domain import CatalogEntry
from agent.parsing import attribution, history, lemmas, terms, textnorm
from agent.parsing.attribution import Notes
from agent.parsing.history import FIELDS, Example, HistoryModel

log = logging.getLogger(__name__)

FORMAT = 1
# The modules whose code decides what a history learns from a text.
_SOURCES = (attribution, history, lemmas, terms, textnorm)


class Fingerprint:
    """A digest of everything a fitted history depends on, fed in the order it is learned."""

    def __init__(self, catalog: Sequence[CatalogEntry]) -> None:
        """Start from the format, Kiwi's version, the learning code and the catalog."""
        self._hash = hashlib.sha256()
        self._feed("pmark-history", str(FORMAT), kiwipiepy.__version__)
        for module in _SOURCES:
            try:
                self._hash.update(Path(str(module.__file__)).read_bytes())
            except OSError:  # no source beside the code (a frozen build): its version stands in
                self._feed(module.__name__, _version())
        for e in catalog:
            self._feed(e.category, e.code, e.name_ko, e.name_en, e.parent or "", *e.synonyms)

    def _feed(self, *parts: str) -> None:
        # Unit and record separators: no field's text can forge another's boundary silently
        # enough to matter (a collision only costs a relearn being skipped for equal content).
        self._hash.update(("\x1f".join(parts) + "\x1e").encode("utf-8", "surrogatepass"))

    def examples(self, examples: Iterable[Example]) -> None:
        """Coded texts, as `HistoryModel.add` would learn them."""
        for ex in examples:
            self._feed(ex.text, *(ex.codes.get(f) or "" for f in FIELDS), repr(ex.weight))

    def correction(self, cid: int, text: str, field: str, code: str) -> None:
        """One stored correction."""
        self._feed("correction", str(cid), text, field, code)

    def hexdigest(self) -> str:
        """The fingerprint as a file name part."""
        return self._hash.hexdigest()[:32]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pmark")
    except PackageNotFoundError:
        return "unknown"


class HistoryStore:
    """Fitted histories in one folder, one file per fingerprint (the latest kept)."""

    def __init__(self, folder: Path) -> None:
        """Use (and create on first save) `folder`."""
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / f"history-{key}.npz"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock: the workers starting together learn the history once."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = (self.folder / ".lock").open("a")
        except OSError:
            log.warning("history snapshot folder %s not writable; learning without it", self.folder)
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def load(self, key: str, kiwi: Kiwi | None) -> HistoryModel | None:
        """The history saved under `key`, or None when there is none or it cannot be read."""
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            return _restore(arrays, kiwi)
        except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile):
            log.warning("history snapshot %s unreadable; learning the history again", path.name)
            return None

    def save(self, key: str, model: HistoryModel) -> None:
        """Keep `model` (fitted here if it was not) under `key`; older snapshots are removed."""
        model.fit()
        path = self._path(key)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            arrays: dict[str, Any] = _snapshot(model)
            with tmp.open("wb") as f:
                np.savez(f, allow_pickle=False, **arrays)
            os.replace(tmp, path)
        except OSError:
            log.warning("could not save the history snapshot in %s", self.folder, exc_info=True)
            tmp.unlink(missing_ok=True)
            return
        for old in self.folder.glob("history-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)


def _text(value: Any) -> npt.NDArray[np.uint8]:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode(), dtype=np.uint8)


def _json(data: npt.NDArray[np.uint8]) -> Any:
    return json.loads(data.tobytes().decode())


def _snapshot(model: HistoryModel) -> dict[str, npt.NDArray[Any]]:
    notes = model._notes
    out: dict[str, npt.NDArray[Any]] = {
        "pair_doc": np.asarray(notes.pair_doc, dtype=np.int32),
        "pair_feat": np.asarray(notes.pair_feat, dtype=np.int32),
        "pair_weight": np.asarray(notes.pair_weight, dtype=np.float64),
        "background": np.asarray([model._background.get(n, 0.0) for n in notes.names]),
    }
    meta: dict[str, Any] = {
        "names": notes.names,
        "code_names": notes.code_names,
        "examples": model.examples,
        "remembered": [[f, k, c] for (f, k), c in model.remembered.items()],
        "taught": sorted(model.taught),
        "samples": list(model.samples),
        "fitted": model._fitted,
        "vocab": model._vocab,
        "fields": {},
    }
    for field, fm in model.fields.items():
        out[f"codes_{field}"] = np.asarray(notes.codes[field], dtype=np.int32)
        # A table as (feature, code, count) rows in its own order, so it is rebuilt with the
        # same key order and each row's sum comes out to the same bits.
        ids = notes._code_ids[field]
        feats, codes, counts = array("i"), array("i"), array("d")
        for f, row in fm.counts.items():
            fid = notes._ids[f]
            for code, n in row.items():
                feats.append(fid)
                codes.append(ids[code])
                counts.append(n)
        out[f"table_feat_{field}"] = np.asarray(feats, dtype=np.int32)
        out[f"table_code_{field}"] = np.asarray(codes, dtype=np.int32)
        out[f"table_count_{field}"] = np.asarray(counts, dtype=np.float64)
        meta["fields"][field] = {"codes": list(fm.codes.items()), "total": fm.total}
    out["meta"] = _text(meta)
    return out


def _restore(arrays: dict[str, npt.NDArray[Any]], kiwi: Kiwi | None) -> HistoryModel:
    meta = _json(arrays["meta"])
    model = HistoryModel(kiwi)
    notes = Notes(FIELDS)
    notes.names = list(meta["names"])
    notes._ids = {n: i for i, n in enumerate(notes.names)}
    notes.code_names = {f: list(meta["code_names"][f]) for f in FIELDS}
    notes._code_ids = {f: {c: i for i, c in enumerate(notes.code_names[f])} for f in FIELDS}
    notes.pair_doc = array("i", arrays["pair_doc"].astype(np.int32).tobytes())
    notes.pair_feat = array("i", arrays["pair_feat"].astype(np.int32).tobytes())
    notes.pair_weight = array("d", arrays["pair_weight"].astype(np.float64).tobytes())
    for field in FIELDS:
        notes.codes[field] = array("i", arrays[f"codes_{field}"].astype(np.int32).tobytes())
    if any(len(notes.codes[f]) != len(notes) for f in FIELDS) or not (
        len(notes.pair_doc) == len(notes.pair_feat) == len(notes.pair_weight)
    ):
        raise ValueError("history snapshot columns of different lengths")
    model._notes = notes
    for field, fm in model.fields.items():
        saved = meta["fields"][field]
        for code, n in saved["codes"]:
            fm.codes[code] = float(n)
        fm.total = float(saved["total"])
        names = notes.code_names[field]
        table: dict[str, dict[str, float]] = {}
        for fid, cid, n in zip(
            arrays[f"table_feat_{field}"].tolist(),
            arrays[f"table_code_{field}"].tolist(),
            arrays[f"table_count_{field}"].tolist(),
            strict=True,
        ):
            table.setdefault(notes.names[fid], {})[names[cid]] = n
        fm.set_counts(table)
    model.examples = int(meta["examples"])
    model.remembered = {(f, k): c for f, k, c in meta["remembered"]}
    model.taught = {int(i) for i in meta["taught"]}
    for text, codes in meta["samples"]:
        model.samples.append((text, dict(codes)))
    background = arrays["background"].tolist()
    model._background = defaultdict(float, zip(notes.names, background, strict=True))
    model._background_total = sum(model._background.values())
    model._vocab = int(meta["vocab"])
    model._fitted = int(meta["fitted"])
    return model
