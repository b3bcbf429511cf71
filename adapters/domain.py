"""Plain value types shared by every layer: catalog entries and notifications."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

CATEGORIES: tuple[str, ...] = ("location", "equipment", "failure_mode", "priority", "activity")
CATALOG_COLUMNS: tuple[str, ...] = ("category", "code", "name_ko", "name_en", "synonyms", "parent")
NOTIFICATION_COLUMNS: tuple[str, ...] = (
    "itemno",
    "created_at",
    "location",
    "equipment",
    "failure_mode",
    "priority",
    "title",
    "details",
    "resolution",
)


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog code with its Korean/English names and the words technicians use for it."""

    category: str
    code: str
    name_ko: str
    name_en: str
    synonyms: tuple[str, ...] = ()
    parent: str | None = None

    def surface_forms(self) -> tuple[str, ...]:
        """Every written form of this entry: names, synonyms and the code itself."""
        forms = [self.name_ko, self.name_en, *self.synonyms, self.code]
        seen: dict[str, str] = {}
        for form in forms:
            form = form.strip()
            if form and form.lower() not in seen:
                seen[form.lower()] = form
        return tuple(seen.values())


@dataclass
class Notification:
    """A past (or new) maintenance notification; field values are catalog codes."""

    itemno: str
    created_at: datetime
    location: str | None
    equipment: str | None
    failure_mode: str | None
    priority: str | None
    title: str
    details: str = ""
    resolution: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def search_text(self) -> str:
        """The text that BM25 and the embedder see for this notification."""
        return " ".join(part for part in (self.title, self.details) if part)
