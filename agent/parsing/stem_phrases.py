"""English phrases matched word by word on their stems: "lifting early" for "lifts early",
"not stroking open" for "not stroke open", "relief valves" for "relief valve".

A form's pattern (matcher.py) inflects only its last word, and only by adding letters; people
inflect any word of a phrase, and drop letters too. Here each word of a form and of the text is
reduced to its Snowball stem and a form matches where its stems follow one another in the text
separated only by spaces or hyphens. A dict lookup per (position, length): linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from adapters.domain import CatalogEntry
from agent.parsing.textnorm import stem_en

# Words as the forms write them: letters with an inner apostrophe (won't) or digits.
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_GAP = re.compile(r"[\s\-_/]*")
# Urgency is said in set words ("normally" is not "normal"): see in_context.no_urgency.
_SKIP = frozenset({"priority"})


class StemPhrases:
    """Latin forms by the sequence of their words' stems."""

    def __init__(self, forms: Iterable[tuple[CatalogEntry, str, str, float]]) -> None:
        """Index the forms (entry, normalized text, method, score) written in Latin letters."""
        self._by_stems: dict[tuple[str, ...], list[tuple[CatalogEntry, str, float]]] = {}
        self._longest = 0
        for entry, text, how, form_score in forms:
            words = text.split()
            if entry.category in _SKIP or not words:
                continue
            if not all(_WORD.fullmatch(w) for w in words):
                continue
            stems = tuple(stem_en(w) for w in words)
            if len(stems) < 2:
                # One word alone is already read in its inflections (the pattern's endings, the
                # catalog's stems); by its stem alone it met too much: "packing" for "packed",
                # "stop" for "stops" in "will stop if it hits 80" (the blind dev texts).
                continue
            # Just under the form's own score: where the exact pattern matches too, it wins.
            method = "stem" if how == "exact" else how
            self._by_stems.setdefault(stems, []).append((entry, method, form_score - 0.01))
            self._longest = max(self._longest, len(stems))

    def find(self, text: str) -> list[tuple[CatalogEntry, int, int, str, float]]:
        """(entry, start, end, method, score) of every form whose stems follow in the text."""
        if not self._by_stems:
            return []
        words = [(m.start(), m.end(), stem_en(m.group(0))) for m in _WORD.finditer(text)]
        out: list[tuple[CatalogEntry, int, int, str, float]] = []
        for i, (start, _, _) in enumerate(words):
            stems: list[str] = []
            for j in range(i, min(len(words), i + self._longest)):
                if j > i and not _GAP.fullmatch(text, words[j - 1][1], words[j][0]):
                    break
                stems.append(words[j][2])
                for entry, method, score in self._by_stems.get(tuple(stems), ()):
                    out.append((entry, start, words[j][1], method, score))
        return out
