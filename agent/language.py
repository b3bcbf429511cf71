"""Which language a technician wrote in."""

from __future__ import annotations

import re

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_LATIN = re.compile(r"[A-Za-z]")


def detect(text: str) -> str:
    """'ko', 'en' or 'mixed' by the share of Hangul and Latin letters."""
    ko = len(_HANGUL.findall(text))
    en = len(_LATIN.findall(text))
    if ko == 0 and en == 0:
        return "ko"
    if ko and en:
        # Korean technicians write English abbreviations all the time; one syllable decides.
        return "mixed" if en > ko * 2 else "ko" if ko >= en / 3 else "mixed"
    return "ko" if ko else "en"


def reply_language(text: str, previous: str = "ko") -> str:
    """The language to answer in: the latest message's. Korean whenever it has any Korean,
    English when it has Latin letters only, the conversation's language when it has neither
    ("3", "!!")."""
    if _HANGUL.search(text):
        return "ko"
    if _LATIN.search(text):
        return "en"
    return previous if previous in ("ko", "en") else "ko"
