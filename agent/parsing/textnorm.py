"""Text normalization shared by the parser's matchers."""

from __future__ import annotations

import re
import threading
import unicodedata

import Stemmer

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN_OR_DIGIT = re.compile(r"[a-z0-9]")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\ufeff]")

# Korean particles and endings that attach to a noun; stripped before fuzzy/vector matching.
PARTICLES = (
    "에서는",
    "에서도",
    "에서",
    "으로",
    "이랑",
    "하고",
    "까지",
    "부터",
    "에게",
    "이고",
    "이며",
    "인데",
    "이가",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "도",
    "로",
    "와",
    "과",
    "랑",
    "요",
    "임",
    "함",
    "됨",
    "중",
)
_STEMMERS = threading.local()


def normalize(text: str) -> str:
    """NFKC, lowercase, control characters removed, whitespace folded."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.lower().split())


def is_hangul(text: str) -> bool:
    """Whether the text contains Hangul syllables."""
    return bool(HANGUL.search(text))


def strip_particle(token: str) -> str:
    """A Korean token without its trailing particle (at least one syllable kept)."""
    for p in PARTICLES:
        if token.endswith(p) and len(token) - len(p) >= 2:
            return token[: -len(p)]
    return token


def stem_en(word: str) -> str:
    """Snowball's English (Porter2) stem: leaking/leaks/leak and vibrating/vibration meet."""
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        # PyStemmer's objects keep per-call buffers and a cache: one per thread.
        stemmer = _STEMMERS.english = Stemmer.Stemmer("english")
    stem: str = stemmer.stemWord(word)
    return stem


def jamo(text: str) -> str:
    """Hangul decomposed into jamo: one wrong vowel costs one letter, not a syllable.

    Unicode's canonical decomposition of a Hangul syllable is its conjoining jamo (L, V, T);
    the matcher calls this on tokens (Hangul syllables and ASCII), which NFD leaves otherwise
    alone.
    """
    return unicodedata.normalize("NFD", text)


TOKEN = re.compile(r"[a-z0-9]+(?:[/&.][a-z0-9]+)*|[\uac00-\ud7a3]+")


def content_tokens(text: str) -> list[tuple[str, int, int]]:
    """Word-like tokens of normalized text with their spans (particles stripped from Korean)."""
    out: list[tuple[str, int, int]] = []
    for m in TOKEN.finditer(text):
        tok = m.group(0)
        if is_hangul(tok):
            tok = strip_particle(tok)
        out.append((tok, m.start(), m.start() + len(tok)))
    return out
