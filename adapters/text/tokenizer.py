"""Korean/English search tokenizer on Kiwi: content morphemes, lowercased English, whole codes."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from kiwipiepy import Kiwi

from adapters.domain import CatalogEntry

# Content morphemes: nouns, numerals, verb/adjective stems, roots, foreign words, hanja, numbers.
CONTENT_TAGS: frozenset[str] = frozenset(
    {"NNG", "NNP", "NR", "VV", "VA", "XR", "SL", "SH", "SN", "W_SERIAL"}
)
# Function words that carry no retrieval signal in maintenance notes.
ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    "a an the and or of in on at to for from by with is are was were be been has have had "
    "it its this that these those as into not no but if then so".split()
)
# Light verbs and auxiliaries that Kiwi tags as stems ("누유됨" -> 누유 + 되).
KOREAN_STOPWORDS: frozenset[str] = frozenset({"하", "되", "있", "않", "이", "것", "수", "등"})
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
# ASCII runs, joined across - / . _ so that P-101A, a/c, 3.5 and V-12.3 stay one token.
_ASCII_RUN = re.compile(r"[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)*")
_SEPARATORS = re.compile(r"[-/._]")

_Span = tuple[int, int, str]


def _split_ascii(match: str) -> list[str]:
    """Keep codes (with a digit) and short abbreviations (a/c, o/h) whole; split word pairs."""
    parts = [p for p in _SEPARATORS.split(match) if p]
    if len(parts) == 1:
        return parts
    if any(c.isdigit() for c in match) or all(len(p) <= 2 for p in parts):
        return [match]
    return parts


def _ascii_spans(text: str) -> list[_Span]:
    """Pre-tokenized spans for Kiwi: each ASCII token becomes one SL/SN morpheme."""
    spans: list[_Span] = []
    for m in _ASCII_RUN.finditer(text):
        start = m.start()
        for part in _split_ascii(m.group()):
            begin = text.index(part, start)
            end = begin + len(part)
            start = end
            # Codes and abbreviations (P-101A, P101A, a/c) are forced into one foreign-word token;
            # plain words and numbers are left to Kiwi, which also knows "1공장", "fd팬" or "3.5".
            mixed = any(c.isalpha() for c in part) and any(c.isdigit() for c in part)
            if mixed or _SEPARATORS.search(part.strip(".")):
                spans.append((begin, end, "SL"))
    return spans


class Tokenizer:
    """Search tokens for Korean/English maintenance text; safe to share between threads."""

    def __init__(self, user_words: Iterable[str] = (), maybe_nouns: Iterable[str] = ()) -> None:
        """Build a tokenizer that keeps `user_words` (catalog names) from being mangled.

        `maybe_nouns` are registered too unless Kiwi reads them as verb/adjective forms
        (failure-mode phrases such as 깨짐 stay verbs, so that they keep matching 깨졌다).
        """
        words = frozenset(_korean_user_words(user_words))
        optional = frozenset(_korean_user_words(maybe_nouns)) - words
        self._kiwi, self.user_words = _kiwi_for(words, optional)
        # Kiwi's analysis is not documented as reentrant; a lock keeps shared use safe and costs
        # little because batches go through Kiwi's own worker pool in one call.
        self._lock = threading.Lock()

    def tokens(self, text: str) -> list[str]:
        """Content tokens of one text, lowercased, in order (duplicates kept for BM25 tf)."""
        if not text or not text.strip():
            return []
        with self._lock:
            text = text.lower()  # catalog forms are matched lowercased
            result = self._kiwi.tokenize(text, pretokenized=_ascii_spans(text))
        return _content(result)

    def tokens_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """`tokens` for many texts at once, using Kiwi's worker threads."""
        out: list[list[str]] = [[] for _ in texts]
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        if not todo:
            return out
        pretok: Callable[[str], list[_Span]] = _ascii_spans
        with self._lock:
            lowered = [texts[i].lower() for i in todo]
            results = self._kiwi.tokenize(lowered, pretokenized=pretok)
            for i, result in zip(todo, results, strict=True):
                out[i] = _content(result)
        return out

    def query_string(self, text: str) -> str:
        """The tokens joined by spaces, as a whitespace-tokenized index stores and is queried."""
        return " ".join(self.tokens(text))


def _content(result: Iterable[object]) -> list[str]:
    tokens: list[str] = []
    for token in result:
        tag = str(getattr(token, "tag", "")).split("-", 1)[0]
        if tag not in CONTENT_TAGS:
            continue
        form = str(getattr(token, "form", "")).strip().lower()
        if not form or form in ENGLISH_STOPWORDS or form in KOREAN_STOPWORDS:
            continue
        tokens.append(form)
    return tokens


def _korean_user_words(words: Iterable[str]) -> Iterable[str]:
    """The Hangul words among the forms (multi-word forms contribute their Hangul parts)."""
    for word in words:
        for part in word.split():
            part = part.strip().lower()
            if part and _HANGUL.search(part):
                yield part


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


_NOUNISH = frozenset({"NNG", "NNP", "NR", "SN", "SL", "SH"})


def _needing_protection(kiwi: Kiwi, words: frozenset[str]) -> frozenset[str]:
    """The words plain Kiwi would mangle; compounds that split into real nouns stay splittable.

    "누유" becomes 누/VV + 유/EF and "씰" 씨 + ㄹ, so they must be user words; "냉각수펌프" splits
    into 냉각수 + 펌프, which BM25 should keep matching "냉각수 펌프", so it is left alone.
    """
    ordered = sorted(words)
    keep: set[str] = set()
    if not ordered:
        return frozenset()
    # Kiwi's reading depends on context ("누유" alone is a noun, "펌프 누유 발생" is not), so each
    # word is checked in a few carrier phrases and protected if any of them mangles it.
    for template in _CARRIERS:
        texts = [template.format(w) for w in ordered]
        for word, text, result in zip(ordered, texts, kiwi.tokenize(texts), strict=True):
            start = text.index(word)
            end = start + len(word)
            pieces = [
                (t.form, str(t.tag).split("-", 1)[0])
                for t in result
                if t.start < end and t.start + t.len > start
            ]
            if len(pieces) == 1 and pieces[0][0] == word and pieces[0][1] in _NOUNISH:
                continue
            if len(pieces) > 1 and all(tag in _NOUNISH and len(f) >= 2 for f, tag in pieces):
                continue
            keep.add(word)
    return frozenset(keep)


def _verb_forms(kiwi: Kiwi, words: frozenset[str]) -> frozenset[str]:
    """The words Kiwi reads with a verb or adjective stem (깨짐 = 깨지 + ㅁ)."""
    ordered = sorted(words)
    if not ordered:
        return frozenset()
    return frozenset(
        word
        for word, result in zip(ordered, kiwi.tokenize(ordered), strict=True)
        if any(str(t.tag).split("-", 1)[0] in _STEM_TAGS for t in result)
    )


_CARRIERS = ("{}", "펌프 {} 발생", "{} 점검 요청")
_STEM_TAGS = frozenset({"VV", "VA", "VX"})


@lru_cache(maxsize=4)
def _kiwi_for(words: frozenset[str], optional: frozenset[str]) -> tuple[Kiwi, frozenset[str]]:
    """One Kiwi per word set (the model takes seconds and ~350 MB), with the words it needed."""
    # The multi-word-expression dictionary (proper names such as 뉴욕 타임스) costs ~190 MB and
    # does nothing for maintenance text; typo correction is not used.
    kiwi = Kiwi(num_workers=_workers(), load_typo_dict=False, load_multi_dict=False)
    # Decide on the plain model first, then register: one instance serves both.
    candidates = words | (optional - _verb_forms(kiwi, optional))
    protected = _needing_protection(kiwi, candidates)
    for word in sorted(protected):
        # Words Kiwi cannot add (e.g. with symbols) are simply left to the model.
        kiwi.add_user_word(word, "NNP")
    # Kiwi rebuilds itself on the first analysis after new words: done here, in one thread, so
    # that afterwards the instance is only read (its author: build once, then analyze from any
    # thread), as the parser's lemmas and the tokenizer share it.
    kiwi.tokenize("준비")
    return kiwi, protected


# Catalog categories whose every written form is a noun (a thing or a place).
_NOUN_CATEGORIES = frozenset({"location", "equipment", "activity"})


def tokenizer_for(entries: Iterable[CatalogEntry]) -> Tokenizer:
    """A tokenizer that keeps the catalog's names and noun synonyms from being mangled.

    All forms of places, equipment and activities, and the Korean names of the other categories,
    are user words; failure-mode and priority synonyms only when they are not verb forms.
    """
    nouns: list[str] = []
    other: list[str] = []
    for entry in entries:
        if entry.category in _NOUN_CATEGORIES:
            nouns.extend(entry.surface_forms())
        else:
            nouns.append(entry.name_ko)
            other.extend(entry.surface_forms())
    return Tokenizer(nouns, maybe_nouns=other)


def catalog_kiwi(entries: Iterable[CatalogEntry]) -> Kiwi:
    """The Kiwi instance `tokenizer_for(entries)` uses, for the parser's lemmas and terms: one
    model per process instead of two (~230 MB less; parse accuracy on the gold splits moved by
    -0.0003 dev and -0.001 test when this was measured)."""
    return tokenizer_for(entries)._kiwi  # `_kiwi_for` caches the instance per word set
