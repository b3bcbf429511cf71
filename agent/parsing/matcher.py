"""Finding catalog names and synonyms in technician text: exact, stemmed and fuzzy."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kiwipiepy import Kiwi, Token
from rapidfuzz import fuzz, process

from adapters.domain import CatalogEntry
from agent.parsing.lemmas import KEEP_TAGS, lemmas_of, lemmatize, plain_kiwi
from agent.parsing.stem_phrases import StemPhrases
from agent.parsing.textnorm import (
    content_tokens,
    is_hangul,
    jamo,
    normalize,
    stem_en,
)

# Morphemes a dictionary form keeps (agent/parsing/lemmas.py), and the grammar it may drop
# (endings, particles, derivational suffixes, the copula, symbols) without changing the meaning.
_KEPT = frozenset(KEEP_TAGS)
_GRAMMAR = ("E", "J", "XSV", "XSA", "XSN", "VCP", "S")  # not Z_CODA: a split syllable
_NEGATING = frozenset({"않", "못하", "말"})  # auxiliaries that turn a verb around
# Particles that say how a word is meant: '평소대로' (as usual) is not '평소' (usual times:
# "평소보다 느림", slower than usual), '정상처럼' is not '정상'.
_COMPARING = frozenset({"대로", "보다", "처럼", "만큼"})

# Between the words of a multi-word Korean form, technicians drop spaces or add a particle.
# Possessive runs: two optional runs of spaces in a row would otherwise be tried in every split
# (quadratic in a run of spaces after the first word).
_KO_GAP = r"\s*+(?:이|가|은|는|을|를|의|에|도)?\s*+"
# Letters of a form's key: three cut the forms tried per text by ~4x against two (1,074 more
# failure-mode phrases share their first two letters with many others).
_KEY = 3


@dataclass(frozen=True)
class Match:
    """A catalog entry found at a span of the normalized text."""

    entry: CatalogEntry
    start: int
    end: int
    surface: str
    method: str  # exact | stem | fuzzy | vector | pattern
    score: float

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class _Form:
    entry: CatalogEntry
    text: str
    pattern: re.Pattern[str]
    key: str
    method: str = "exact"
    score: float = 0.0
    words: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(self.text.split()))  # derived, set once


def _usable(form: str, entry: CatalogEntry) -> bool:
    """Short or numeric codes are never matched as words: '1', 'PU', 'CO' are everywhere."""
    if form == entry.code and form not in (entry.name_ko, entry.name_en, *entry.synonyms):
        return len(form) >= 3 and not form.isdigit() and any(c.isalpha() for c in form)
    if form.isdigit():
        return False
    return len(form) >= 1


def _pattern(form: str) -> re.Pattern[str]:
    pieces: list[str] = []
    words = form.split()
    for i, word in enumerate(words):
        chars: list[str] = []
        for j, ch in enumerate(word):
            if j and (is_hangul(ch) != is_hangul(word[j - 1])):
                chars.append(r"\s*")  # "2공장" is also written "2 공장"
            chars.append(re.escape(ch))
        pieces.append("".join(chars))
        if i < len(words) - 1:
            gap = _KO_GAP if is_hangul(word[-1]) and is_hangul(words[i + 1][0]) else r"[\s\-_/]*"
            pieces.append(gap)
    body = "".join(pieces)
    left = r"(?<![a-z0-9])" if re.match(r"[a-z0-9]", form) else ""
    right = ""
    if len(form) == 1 and is_hangul(form):
        # One syllable ('샘', '튐') is a word only when it stands alone: not inside '샘플'.
        left, right = r"(?<![\uac00-\ud7a3])", r"(?![\uac00-\ud7a3])"
    if re.search(r"[a-z]$", form):
        # English inflections: leak -> leaking/leaks/leaked.
        body += r"(?:s|es|ed|d|ing)?"
        right = r"(?![a-z0-9])"
    elif re.search(r"[0-9]$", form):
        right = r"(?![0-9])"
    return re.compile(left + body + right)


def _key(form: str) -> str:
    """What a text must contain for the form to match in it: the first three letters of its
    first word (all of a shorter one). Within a word only spaces may be added ("2 공장"); between
    words also particles or hyphens, so a longer key could miss "shutdown-vlv"."""
    return form.split()[0][:_KEY] if form.strip() else ""


def _key_index(forms: Sequence[_Form]) -> dict[str, list[int]]:
    """Positions of forms by their key (`_key`)."""
    index: dict[str, list[int]] = {}
    for i, form in enumerate(forms):
        index.setdefault(form.key, []).append(i)
    return index


def _present(index: dict[str, list[int]], forms: Sequence[_Form], compact: str) -> list[_Form]:
    """The forms whose key occurs in the text, in their original order.

    Looked up by the text's own letters (runs of one to three): a text of n letters costs 3n
    lookups, where testing every form's key cost one substring search per form (3,000 forms
    with the lexicon, the parser's largest cost before its first regular expression).
    """
    hits: set[int] = set(index.get("", ()))
    for i in range(len(compact)):
        for n in range(1, _KEY + 1):
            found = index.get(compact[i : i + n])
            if found is not None:
                hits.update(found)
    return [forms[i] for i in sorted(hits)]


def _keeps_meaning(tokens: Sequence[Token]) -> bool:
    """Whether a form's dictionary form says what the form says: only grammar (endings,
    particles, suffixes, an aspect auxiliary) may fall away. A dropped negation ('멈추지 않'
    is not '멈추다'), prefix ('불안정' is not '안정'), misread fragment ('천천히 닫' is not
    '천천히') or a negation cut off after its '-지' ('열리지' as in '열리지 않아') would
    match words that mean something else, even the opposite."""
    if tokens and tokens[-1].form == "지" and str(tokens[-1].tag).startswith("E"):
        return False
    for token in tokens:
        tag = str(token.tag).split("-")[0]
        if tag.startswith("J") and token.form in _COMPARING:
            return False
        if tag in _KEPT or tag.startswith(_GRAMMAR):
            continue
        if tag == "VX" and token.form not in _NEGATING:
            continue  # '새고 있', '열려 있음': the state the verb names still holds
        return False
    return True


class CatalogMatcher:
    """All written forms of a catalog, compiled once, matched against normalized text."""

    def __init__(
        self,
        entries: Iterable[CatalogEntry],
        extra: Iterable[tuple[CatalogEntry, str]] = (),
        fuzzy_threshold: float = 86.0,
        kiwi: Kiwi | None = None,
    ) -> None:
        self.entries = list(entries)
        self._kiwi = kiwi
        self.fuzzy_threshold = fuzzy_threshold
        self._forms: list[_Form] = []
        self._lemma_forms: list[_Form] = []
        self._stems: dict[str, list[CatalogEntry]] = {}
        self._fuzzy_latin: list[tuple[str, CatalogEntry]] = []
        self._fuzzy_ko: list[tuple[str, str, CatalogEntry]] = []
        seen: set[tuple[str, str, str]] = set()
        for entry in self.entries:
            for raw in entry.surface_forms():
                form = normalize(raw)
                if not form or not _usable(raw, entry):
                    continue
                key = (entry.category, entry.code, form)
                if key in seen:
                    continue
                seen.add(key)
                compact = form.replace(" ", "")
                score = min(0.99, 0.9 + 0.01 * len(form))
                self._forms.append(_Form(entry, form, _pattern(form), _key(form), "exact", score))
                self._add_lemma_form(entry, form, "exact", score)
                if " " not in form and re.fullmatch(r"[a-z]+", form) and len(form) >= 4:
                    self._stems.setdefault(stem_en(form), []).append(entry)
                    if len(form) >= 5:
                        self._fuzzy_latin.append((form, entry))
                elif re.fullmatch(r"[\uac00-\ud7a3]{2,}", compact):
                    self._fuzzy_ko.append((compact, jamo(compact), entry))

        for entry, raw in extra:
            form = normalize(raw)
            key = (entry.category, entry.code, form)
            if not form or key in seen:
                continue
            seen.add(key)
            compact = form.replace(" ", "")
            # The lexicon's words are general language: a little less sure than the plant's own.
            self._forms.append(_Form(entry, form, _pattern(form), _key(form), "lexicon", 0.86))
            self._add_lemma_form(entry, form, "lexicon", 0.84)
        self._form_keys = _key_index(self._forms)
        self._stem_phrases = StemPhrases((f.entry, f.text, f.method, f.score) for f in self._forms)
        self._lemma_keys = _key_index(self._lemma_forms)
        self._latin_keys = [form for form, _ in self._fuzzy_latin]
        self._ko_keys = [fj for _, fj, _ in self._fuzzy_ko]

    def _add_lemma_form(self, entry: CatalogEntry, form: str, method: str, score: float) -> None:
        if not is_hangul(form):
            return
        # One tokenization serves the meaning check and the dictionary form.
        tokens = list((self._kiwi or plain_kiwi()).tokenize(form))
        if not _keeps_meaning(tokens):
            return
        lemma = lemmas_of(tokens).text
        if lemma and lemma != form and len(lemma.replace(" ", "")) >= 2:
            self._lemma_forms.append(
                _Form(entry, lemma, _pattern(lemma), _key(lemma), method, score - 0.02)
            )

    def find(self, text: str) -> list[Match]:
        """Every exact, stemmed and fuzzy match in normalized text (overlaps included)."""
        compact = text.replace(" ", "")
        matches: list[Match] = []
        for form in _present(self._form_keys, self._forms, compact):
            # Every word of a form stands in the text's letters wherever the form matches: a
            # substring test first spares most forms their regular expression.
            if not all(word in compact for word in form.words):
                continue
            for m in form.pattern.finditer(text):
                # Longer written forms are more specific, so they are a little more certain.
                matches.append(
                    Match(form.entry, m.start(), m.end(), m.group(0), form.method, form.score)
                )
        stemmed = self._stem_phrases.find(text)
        if stemmed:
            exact = {(m.entry.code, m.entry.category, m.start, m.end) for m in matches}
            for entry, start, end, method, score in stemmed:
                if (entry.code, entry.category, start, end) not in exact:
                    matches.append(Match(entry, start, end, text[start:end], method, score))
        if is_hangul(text):
            matches.extend(self._lemma_matches(text))
        covered = _coverage(matches, len(text))
        for token, start, end in content_tokens(text):
            if any(covered[start:end]):
                continue
            matches.extend(self._soft(token, start, end))
        return matches

    def _lemma_matches(self, text: str) -> list[Match]:
        lemmas = lemmatize(text, self._kiwi)
        compact = lemmas.text.replace(" ", "")
        out: list[Match] = []
        for form in _present(self._lemma_keys, self._lemma_forms, compact):
            if not all(word in compact for word in form.words):
                continue
            for m in form.pattern.finditer(lemmas.text):
                span = lemmas.source_span(m.start(), m.end())
                if span is not None:
                    out.append(
                        Match(
                            form.entry,
                            span[0],
                            span[1],
                            text[span[0] : span[1]],
                            "lemma",
                            form.score,
                        )
                    )
        return out

    def _soft(self, token: str, start: int, end: int) -> list[Match]:
        out: list[Match] = []
        if re.fullmatch(r"[a-z]+", token) and len(token) >= 4:
            for entry in self._stems.get(stem_en(token), []):
                out.append(Match(entry, start, end, token, "stem", 0.9))
            if out or len(token) < 5:
                return out
            for _, ratio, i in process.extract(
                token,
                self._latin_keys,
                scorer=fuzz.ratio,
                score_cutoff=self.fuzzy_threshold,
                limit=3,
            ):
                out.append(
                    Match(self._fuzzy_latin[i][1], start, end, token, "fuzzy", 0.85 * ratio / 100)
                )
        elif is_hangul(token) and len(token) >= 2:
            for _, ratio, i in process.extract(
                jamo(token),
                self._ko_keys,
                scorer=fuzz.ratio,
                score_cutoff=self.fuzzy_threshold,
                limit=3,
            ):
                compact, _, entry = self._fuzzy_ko[i]
                if compact != token and abs(len(compact) - len(token)) <= 1:
                    out.append(Match(entry, start, end, token, "fuzzy", 0.85 * ratio / 100))
        return out


def _coverage(matches: Sequence[Match], n: int) -> list[bool]:
    covered = [False] * n
    for m in matches:
        for i in range(m.start, m.end):
            covered[i] = True
    return covered
