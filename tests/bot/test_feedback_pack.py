"""Remembered answers are packed as JSON text: what comes back is what the stdlib would give."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.feedback import _pack, _unpack


@pytest.mark.parametrize(
    "response",
    [
        {"reply": "2공장 냉각수 펌프 누유", "recommendations": [{"score": 0.93, "itemno": "N1"}]},
        {"created": datetime(2026, 12, 6, 23, 0, tzinfo=UTC), 7: "int key", "t": (1, 2)},
        {"query": "\ud800 a lone surrogate from a client", "n": None},
    ],
)
def test_a_packed_answer_unpacks_as_the_stdlib_would_read_it(response: dict[str, Any]) -> None:
    expected = json.loads(json.dumps(response, ensure_ascii=False, default=str))
    assert _unpack(_pack(response)) == expected


def test_text_packed_by_the_stdlib_still_unpacks() -> None:
    # Cards stored before the packer changed are read back from the database.
    stored = json.dumps({"query": "펌프", "votes": {"N1": 1}}, ensure_ascii=False)
    assert _unpack(stored) == {"query": "펌프", "votes": {"N1": 1}}
    assert _unpack("[1, 2]") == {}
