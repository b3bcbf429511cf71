"""Writes the unseen-plant benchmark data: a names-only catalog and a coded shorthand history.

The plant is invented (benchmarks/data/unseen_plant/vocab.json): its codes and names are not the
demo's, its catalog has no synonyms, and its texts are drawn from a vocabulary written for it, not
from PMark's lexicon nor from public maintenance research sets.

.venv/bin/python benchmarks/unseen_plant_data.py [--out benchmarks/data/unseen_plant] [--n 800]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "data" / "unseen_plant"
COLUMNS = (
    "itemno,created_at,location,equipment,failure_mode,priority,title,details,resolution"
).split(",")
# Where equipment tends to live: a code drawn for a location prefers these.
HOMES = {
    "SH30": ["EQ-PMP-CW", "EQ-FAN", "EQ-GBX", "EQ-FLT"],
    "SH40": ["EQ-TNK", "EQ-SNS-LVL", "EQ-VLV", "EQ-PMP"],
    "SH50": ["EQ-BLR", "EQ-PMP-FO", "EQ-SNS-TMP", "EQ-VLV-PSV", "EQ-FAN"],
    "SH60": ["EQ-PMP-DOS", "EQ-FLT", "EQ-PMP-CEN", "EQ-TNK"],
    "SH70": ["EQ-CNV", "EQ-MTR", "EQ-GBX", "EQ-SNS"],
    "SH80": ["EQ-TRF", "EQ-SWG", "EQ-FAN"],
}
EN_FRAMES = [
    ("{eq} {fm}", "{loc} {eq} {fm}, {pri}"),
    ("{loc} - {eq} {fm}", "{eq} {fm} {ctx}. {pri}"),
    ("{eq} {fm}", "found {eq} {fm} at {loc} {ctx} - {pri}"),
    ("{fm} {eq}", "{fm} on {eq} in {loc}. {pri}"),
    ("{loc} {eq}", "{eq} {fm} {ctx} {pri}"),
]
KO_FRAMES = [
    ("{eq} {fm}", "{loc} {eq} {fm} {pri}"),
    ("{loc} {eq} {fm}", "{eq} {fm} 확인됨 {ctx}. {pri}"),
    ("{eq} {fm} 발생", "{loc}에 {eq} {fm}. {pri}"),
    ("{loc} {eq}", "{eq} {fm} {ctx} {pri}"),
]
CTX = {"en": ["near the {eq2}", "next to {eq2}", "by {eq2}"], "ko": ["{eq2} 옆", "{eq2} 근처"]}


def _typo(word: str, rng: random.Random) -> str:
    """One slip of the thumb: a letter dropped, doubled or swapped."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _noisy(text: str, rng: random.Random) -> str:
    out: list[str] = []
    for word in text.split(" "):
        if word.isascii() and word.isalpha() and len(word) >= 5 and rng.random() < 0.07:
            word = _typo(word, rng)
        out.append(word)
    joined = " ".join(out)
    if rng.random() < 0.1:  # Korean texts often lose a space or two
        joined = joined.replace(" ", "", 1)
    return joined


def _unsaid(frame: str) -> str:
    """A frame without its location, and the particle or preposition that went with it."""
    return re.sub(r"(?:\b(?:at|in) )?\{loc\}(?:에)?", "", frame)


def _tidy(text: str) -> str:
    """Spaces and punctuation folded."""
    text = re.sub(r"\s+([.,])", r"\1", " ".join(text.split()))
    return text.strip(" -,.")


def _weights(codes: list[str], rng: random.Random) -> list[float]:
    """A skewed code distribution, as in a real plant (a few codes are most of the work)."""
    return [1.0 / (rank + 1) ** 0.8 for rank in rng.sample(range(len(codes)), len(codes))]


def generate(vocab: dict[str, Any], n: int, seed: int = 15) -> list[dict[str, str]]:
    """`n` coded notifications, oldest first."""
    rng = random.Random(seed)
    says = vocab["says"]
    codes = {c: list(says[c]) for c in ("location", "equipment", "failure_mode", "priority")}
    weights = {c: _weights(v, rng) for c, v in codes.items()}
    start = datetime(2023, 1, 2, 7, 0)
    rows: list[dict[str, str]] = []
    for i in range(n):
        when = start + timedelta(minutes=int(i * 1650 + rng.randrange(0, 900)))
        pick = {c: rng.choices(codes[c], weights[c])[0] for c in codes}
        if pick["location"] in HOMES and rng.random() < 0.5:
            pick["equipment"] = rng.choice(HOMES[pick["location"]])
        lang = rng.choices(("en", "ko", "mixed"), (0.5, 0.35, 0.15))[0]
        words_lang = "ko" if lang == "ko" else "en"
        frame_lang = "ko" if lang in ("ko", "mixed") else "en"
        mixed_eq = "en" if lang == "mixed" else words_lang

        def say(category: str, code: str, language: str) -> str:
            return rng.choice(says[category][code][language])

        eq = say("equipment", pick["equipment"], mixed_eq)
        other = rng.choice([c for c in codes["equipment"] if c != pick["equipment"]])
        ctx = ""
        if rng.random() < 0.2:
            ctx = rng.choice(CTX[frame_lang]).format(eq2=say("equipment", other, mixed_eq))
        parts = {
            "eq": eq,
            "fm": say("failure_mode", pick["failure_mode"], words_lang),
            "loc": say("location", pick["location"], words_lang) if rng.random() > 0.07 else "",
            "pri": say("priority", pick["priority"], words_lang) if rng.random() > 0.1 else "",
            "ctx": ctx,
        }
        title_t, details_t = rng.choice(EN_FRAMES if frame_lang == "en" else KO_FRAMES)
        if not parts["loc"]:
            title_t, details_t = (_unsaid(t) for t in (title_t, details_t))
        title, details = (_tidy(t.format(**parts)) for t in (title_t, details_t))
        fixes = vocab["fix"][pick["failure_mode"]]
        rows.append(
            {
                "itemno": f"SH{when:%y}{i:05d}",
                "created_at": when.isoformat(),
                **pick,
                "title": _noisy(title, rng),
                "details": _noisy(details, rng),
                "resolution": rng.choice(fixes[1::2] if words_lang == "ko" else fixes[0::2]),
            }
        )
    return rows


def write(out: Path, n: int) -> tuple[Path, Path]:
    """Write catalog.csv and history.csv under `out`."""
    vocab = json.loads((HERE / "vocab.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    catalog = out / "catalog.csv"
    with catalog.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["category", "code", "name_ko", "name_en", "synonyms", "parent"])
        for category, entries in vocab["catalog"].items():
            for code, name_ko, name_en, parent in entries:
                w.writerow([category, code, name_ko, name_en, "", parent])
    history = out / "history.csv"
    with history.open("w", newline="", encoding="utf-8") as f:
        dw = csv.DictWriter(f, fieldnames=COLUMNS)
        dw.writeheader()
        dw.writerows(generate(vocab, n))
    return catalog, history


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--n", type=int, default=800)
    args = ap.parse_args()
    for path in write(args.out, args.n):
        print(path)


if __name__ == "__main__":
    main()
