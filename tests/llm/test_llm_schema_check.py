"""The small JSON Schema checker used to validate LLM answers."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.llm.schema import schema_errors

FIELDS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": ["string", "null"], "enum": ["A", "B", None]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "count": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
        "flag": {"type": "boolean"},
    },
    "required": ["code", "score"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "value",
    [
        {"code": "A", "score": 0.5},
        {"code": None, "score": 1, "count": 3, "tags": ["x", "abc"], "flag": False},
        {"code": "B", "score": 0, "count": 2.0},
    ],
)
def test_conforming_values_have_no_errors(value: dict[str, Any]) -> None:
    assert schema_errors(value, FIELDS) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"code": "C", "score": 0.5}, "not in enum"),
        ({"score": 0.5}, "missing required 'code'"),
        ({"code": "A", "score": 0.5, "extra": 1}, "unexpected property 'extra'"),
        ({"code": "A", "score": 1.5}, "> 1"),
        ({"code": "A", "score": "high"}, "expected number"),
        ({"code": "A", "score": True}, "expected number"),  # JSON booleans are not numbers
        ({"code": "A", "score": 0.1, "count": 1.5}, "expected integer"),
        ({"code": "A", "score": 0.1, "tags": ["toolong"]}, "longer than 3"),
        ({"code": "A", "score": 0.1, "flag": 1}, "expected boolean"),
        ([], "expected object"),
    ],
)
def test_violations_are_reported(value: Any, fragment: str) -> None:
    errors = schema_errors(value, FIELDS)
    assert any(fragment in error for error in errors), errors


def test_enum_does_not_confuse_true_with_one() -> None:
    assert schema_errors(True, {"enum": [1]}) != []
    assert schema_errors(1, {"enum": [1]}) == []


def test_any_of() -> None:
    schema: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert schema_errors(None, schema) == []
    assert schema_errors(3, schema) != []
