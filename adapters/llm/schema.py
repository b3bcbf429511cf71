"""Checking an LLM's JSON answer against the schema it was asked to follow (jsonschema,
Draft 2020-12), with short messages naming the path and what was wrong."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Draft202012Validator:
    # A handful of distinct schemas per process: build each validator once.
    return Draft202012Validator(json.loads(schema_json))


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, as readable messages; empty when it conforms."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    # dict.fromkeys: one message for all the required keys missing from an object.
    return list(dict.fromkeys(_message(error, path) for error in validator.iter_errors(value)))


def _message(error: ValidationError, root: str) -> str:
    path = root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"{path}: expected {'|'.join(names)}, got {type(value).__name__}"
    if kind == "required":
        missing = [key for key in expected if key not in value]
        return f"{path}: missing required {', '.join(map(repr, missing))}"
    if kind == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = [key for key in value if key not in known]
        return f"{path}: unexpected property {', '.join(map(repr, extra))}"
    simple = {
        "enum": f"{value!r} not in enum",
        "const": f"{value!r} is not {expected!r}",
        "minimum": f"{value} < {expected}",
        "maximum": f"{value} > {expected}",
        "minLength": f"shorter than {expected}",
        "maxLength": f"longer than {expected}",
        "anyOf": "matches none of anyOf",
    }
    return f"{path}: {simple.get(str(kind), error.message)}"
