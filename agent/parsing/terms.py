"""The words of a technician's text as the history learns them: English tokens, Kiwi morphemes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from kiwipiepy import Kiwi

from agent.parsing.lemmas import plain_kiwi
from agent.parsing.textnorm import is_hangul, normalize

# English shorthand keeps its inner marks: u/s, b4, won't, 100%.
_LATIN = re.compile(r"[a-z0-9]+(?:['/&.%][a-z0-9]+)*%?")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+(?:\s+[\uac00-\ud7a3]+)*")
# Content morphemes, and 안/못 (negation), which turn '돌아가다' into 'will not run'.
_KO_TAGS = ("NNG", "NNP", "NR", "XR", "VV", "VA", "MAG", "NNB")
# English function words: in a small history "it" or "on" can lean to a code by chance, and the
# history then fills a field on it ("showing 50 m3/h with the pump off ... need it" → plugged).
# Not the search tokenizer's ENGLISH_STOPWORDS: "not" and "no" stay here, where they turn a
# failure around ("not start").
_EN_SKIP = frozenset(
    "a an the it its is are was were be been to of in on at for and or with by from this that"
    " there as so but".split()
)
_KO_SKIP = frozenset({"하", "되", "있", "이", "것", "거", "수", "등", "좀"})


@lru_cache(maxsize=16384)
def words(
    text: str, kiwi: Kiwi | None = None, function_words: bool = False
) -> tuple[tuple[str, int, int], ...]:
    """Tokens of normalized text in order, with their spans: Latin words and Korean morphemes
    (by `kiwi`, the catalog's, or a plain model)."""
    out: list[tuple[str, int, int]] = []
    for m in _LATIN.finditer(text):
        if function_words or m.group(0) not in _EN_SKIP:
            out.append((m.group(0), m.start(), m.end()))
    if is_hangul(text):
        for run in _HANGUL_RUN.finditer(text):
            for tok in (kiwi or plain_kiwi()).tokenize(run.group(0)):
                tag = str(tok.tag).split("-")[0]
                if tag in _KO_TAGS and tok.form not in _KO_SKIP:
                    start = run.start() + tok.start
                    out.append((tok.form, start, start + tok.len))
        out.sort(key=lambda w: w[1])
    return tuple(out)


def features(text: str, kiwi: Kiwi | None = None) -> dict[str, float]:
    """Features of a text with their weights: words, adjacent pairs, and letter 4-grams of long
    English words (so a typo still shares most of its evidence)."""
    return features_of([w for w, _, _ in words(normalize(text), kiwi)])


def features_of(toks: Sequence[str]) -> dict[str, float]:
    """`features` of an already tokenized text."""
    out: dict[str, float] = {}
    for tok in toks:
        out[tok] = 1.0
        if tok.isascii() and tok.isalpha() and len(tok) >= 5:
            padded = f"<{tok}>"
            grams = [padded[i : i + 4] for i in range(len(padded) - 3)]
            for gram in grams:
                key = "#" + gram
                out[key] = out.get(key, 0.0) + 0.6 / len(grams)
    for a, b in zip(toks, toks[1:], strict=False):
        out[f"{a} {b}"] = 1.0
    return out
