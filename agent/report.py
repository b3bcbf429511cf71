"""What a filed notification says: the report (and its later details), not the transcript."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLE_CHARS = 200


def title_and_details(response: Mapping[str, Any], channel: str, user_id: str) -> tuple[str, str]:
    """The notification's title (the report as first written) and details (the report, the
    messages that added to it, the tag, and where it was filed from)."""
    view = response.get("notification") or {}
    lang = "en" if response.get("lang") == "en" else "ko"
    report = " ".join(str(response.get("report") or response.get("query") or "").split())
    names = [
        str((v.get("name_ko") if lang == "ko" else v.get("name_en")) or v.get("code"))
        for f in ("location", "equipment", "failure_mode")
        if isinstance(v := view.get(f), Mapping)
    ]
    title = (report or " ".join(names) or "PMark")[:TITLE_CHARS]
    lines = [report, *[str(n) for n in response.get("notes") or []]]
    tag = view.get("equipment_tag")
    if tag:
        lines.append(f"tag {tag}")
    lines.append(f"filed via PMark ({channel}) by {user_id}; answer {response.get('answer_id')}")
    return title, "\n".join(line for line in lines if line).strip()
