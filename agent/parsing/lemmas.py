"""Korean dictionary forms, so '새고 있습니다', '샙니다' and a catalog's '새다' can meet."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from kiwipiepy import Kiwi, Token

KEEP_TAGS = ("NNG", "NNP", "NNB", "NR", "XR", "MAG", "MM", "SL", "SN", "SH", "VV", "VA")


@dataclass(frozen=True)
class LemmaText:
    """Lemmas joined by spaces, each with the span of the normalized text it came from."""

    text: str
    spans: tuple[tuple[int, int, int, int], ...]  # lemma start, lemma end, text start, text end

    def source_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The text span covered by lemmas overlapping [start, end)."""
        covered = [s for s in self.spans if s[0] < end and start < s[1]]
        if not covered:
            return None
        return covered[0][2], covered[-1][3]


@lru_cache(maxsize=1)
def plain_kiwi() -> Kiwi:
    # Without the typo and multi-word dictionaries: ~115 MB less per process, and the same
    # tokens on every gold and demo-history text (3,095 compared when this changed).
    return Kiwi(load_typo_dict=False, load_multi_dict=False)


@lru_cache(maxsize=8192)
def lemmatize(text: str, kiwi: Kiwi | None = None) -> LemmaText:
    """Content morphemes of normalized text in dictionary form (verbs and adjectives with 다),
    by `kiwi` (the catalog's: adapters/text/tokenizer.py `catalog_kiwi`) or a plain model."""
    return lemmas_of((kiwi or plain_kiwi()).tokenize(text))


def lemmas_of(tokens: Iterable[Token]) -> LemmaText:
    """The dictionary form of text already tokenized by Kiwi (see `lemmatize`)."""
    parts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    pos = 0
    for tok in tokens:
        tag = str(tok.tag).split("-")[0]
        if tag not in KEEP_TAGS:
            continue
        form = tok.form + "다" if tag in ("VV", "VA") else tok.form
        if parts:
            pos += 1
        spans.append((pos, pos + len(form), tok.start, tok.start + tok.len))
        parts.append(form)
        pos += len(form)
    return LemmaText(" ".join(parts), tuple(spans))
