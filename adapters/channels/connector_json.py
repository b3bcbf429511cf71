"""Bot Connector request bodies written without msrest's generic walk.

msrest serializes a reply by walking every model attribute through a type-string dispatch, key
transformers and a validation pass, and re-walks every `object` value (the Adaptive Card) key by
key: under load that was the largest single cost of posting a reply (bench_http, 1 worker: 5% of
the GIL-held time after the transport was pooled). The botbuilder schema is plain JSON models (no
flattened keys, no read-only or required fields, no XML), so a direct walk of `_attribute_map`
writes the same JSON; anything outside that shape goes msrest's way. The tests compare both.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson
from msrest.serialization import Model, Serializer

_BASIC = {"str": str, "int": int, "float": float, "bool": bool}


class _Unsupported(Exception):
    """A shape the direct walk leaves to msrest."""


class JsonPassthroughSerializer(Serializer):
    """msrest's serializer with a direct path for botbuilder's models and plain-JSON objects."""

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if isinstance(data, Model) and type(data).__name__ == data_type and not kwargs:
            try:
                return self._model(data)
            except _Unsupported:
                pass
        return super().body(data, data_type, **kwargs)  # type: ignore[no-untyped-call]

    def serialize_object(self, attr: Any, **kwargs: Any) -> Any:
        if type(attr) in (dict, list):
            try:
                orjson.dumps(attr)  # a walk in C proves it is JSON already
            except TypeError:  # orjson's JSONEncodeError is a TypeError
                pass
            else:
                return attr
        return super().serialize_object(attr, **kwargs)  # type: ignore[no-untyped-call]

    def _model(self, model: Model) -> dict[str, Any]:
        if model.is_xml_model() or getattr(model, "_validation", None):  # type: ignore[no-untyped-call]
            raise _Unsupported
        out: dict[str, Any] = {}
        for attr, desc in model._attribute_map.items():
            value = getattr(model, attr, None)
            if value is None:
                continue
            key = desc["key"]
            if not key or "." in key:  # additional properties, flattened keys
                raise _Unsupported
            out[key] = self._value(value, desc["type"])
        return out

    def _value(self, value: Any, kind: str) -> Any:
        basic = _BASIC.get(kind)
        if basic is not None:
            if isinstance(value, Enum):
                return value.value
            return value if type(value) is basic else basic(value)
        if isinstance(value, Model):
            return self._model(value)
        if kind == "object":
            return self.serialize_object(value)
        if kind.startswith("[") and isinstance(value, list):
            return [self._value(item, kind[1:-1]) for item in value]
        if kind.startswith("{") and isinstance(value, dict):
            return {str(k): self._value(v, kind[1:-1]) for k, v in value.items()}
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, str) and kind in self.dependencies:
            return value  # an enum given as its string value
        special: Any = self.serialize_type.get(kind)
        if special is not None and not kind.startswith(("[", "{")):
            return special(value)
        raise _Unsupported
