"""Equipment tags as plants write them: P-101A, C-201, TK-3001, M305B."""

from __future__ import annotations

import re

_TAG = re.compile(
    r"(?<![A-Za-z0-9])("
    r"[A-Za-z]{1,4}-\d{1,5}[A-Za-z]?(?:-\d{1,3})?"  # P-101A, TK-3001, HX-12-1
    r"|[A-Za-z]{1,3}\d{3,5}[A-Za-z]?"  # P101A, M305B
    r")(?![A-Za-z0-9])"
)


def tag_spans(text: str) -> list[tuple[int, int]]:
    """Where the text writes equipment tags: their numbers name a machine, not its place."""
    return [m.span(1) for m in _TAG.finditer(text)]


def find_tag(text: str, exclude: set[str] | None = None) -> str | None:
    """The first equipment tag in the text, upper-cased, skipping words that are catalog forms."""
    for m in _TAG.finditer(text):
        tag = m.group(1)
        if exclude and tag.lower() in exclude:
            continue
        return tag.upper()
    return None
