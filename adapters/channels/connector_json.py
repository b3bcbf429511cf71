"""Bot Connector request bodies written without msrest's generic walk.

msrest serializes a reply by walking every model attribute through a type-string dispatch, key
transformers and a validation pass, and re-walks every `object` value (the Adaptive Card) key by
key: under load that was the largest single cost of posting a reply (bench_http, 1 worker: 5% of
the GIL-held time after the transport was pooled). The botbuilder schema is plain JSON models (no
flattened keys, no read-only or required fields, no XML), so a direct walk of `_attribute_map`
writes the same JSON; anything outside that shape goes msrest's way. The tests compare both.

The walk's result leaves already encoded (orjson): msrest's `ClientRequest.add_content` would
otherwise run the stdlib encoder over the whole card (2% of a busy process's CPU), and it keeps a
body the encoder refuses as it is. msrest 0.7.1 is its last release, so that contract holds.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson
from msrest.serialization import Deserializer, Model, Serializer

_BASIC = {"str": str, "int": int, "float": float, "bool": bool}


class _Unsupported(Exception):
    """A shape the direct walk leaves to msrest."""


class EncodedJson(bytes):
    """A request body already written as JSON; msrest's add_content sends it unchanged."""


class JsonPassthroughSerializer(Serializer):
    """msrest's serializer with a direct path for botbuilder's models and plain-JSON objects."""

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if isinstance(data, Model) and type(data).__name__ == data_type and not kwargs:
            try:
                return EncodedJson(orjson.dumps(self._model(data)))
            except (_Unsupported, TypeError):  # TypeError: e.g. a lone surrogate in a text
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


# Per model class (a handful): msrest rebuilds these from the schema module's namespace on
# every call.
_DEPS: dict[type, dict[str, Any]] = {}
_WRITERS: dict[type, JsonPassthroughSerializer] = {}


def _deps(cls: type[Model]) -> dict[str, Any]:
    deps = _DEPS.get(cls)
    if deps is None:
        deps = _DEPS[cls] = cls._infer_class_models()  # type: ignore[no-untyped-call]
    return deps


def _writer(cls: type[Model]) -> JsonPassthroughSerializer:
    writer = _WRITERS.get(cls)
    if writer is None:
        writer = _WRITERS[cls] = JsonPassthroughSerializer(_deps(cls))  # type: ignore[no-untyped-call]
    return writer


def write_model(model: Model) -> dict[str, Any]:
    """A botbuilder model as the JSON dict `model.serialize()` gives, by the direct walk."""
    try:
        return _writer(type(model))._model(model)
    except _Unsupported:
        written: dict[str, Any] = model.serialize()  # type: ignore[no-untyped-call]
        return written


# Inbound: what msrest's Deserializer does for botbuilder's models, without its per-attribute
# copies, key-extractor chain and type dispatch (2.7% of a busy process's CPU, one activity per
# message and per card click). Exact keys and exact JSON types only: a value msrest would coerce
# ("true" for a bool, a number for a string), a date it cannot read or an enum sends the whole
# activity msrest's way, so the result is msrest's in every case. The tests compare both.
_READ_BASIC: dict[str, type] = {"str": str, "bool": bool, "int": int, "float": float}


def read_model(cls: type[Model], data: Any) -> Any:
    """A botbuilder model from its JSON, as `cls.deserialize(data)` would build it."""
    try:
        return _read_model(cls, data, _deps(cls))
    except _Unsupported:
        return cls.deserialize(data)  # type: ignore[no-untyped-call]


_Plan = tuple[tuple[tuple[str, str, str], ...], frozenset[str]]
# Per model class, what reading it takes (attribute, JSON key, type) and the keys it knows;
# None for a class the direct walk leaves to msrest. Derived once, not for every activity.
_PLANS: dict[type, _Plan | None] = {}


def _plan(cls: type[Model]) -> _Plan:
    if cls not in _PLANS:
        rules = getattr(cls, "_validation", None) or {}
        fields = tuple((a, d["key"], d["type"]) for a, d in cls._attribute_map.items())
        supported = (
            not getattr(cls, "_subtype_map", None)
            and not any(v.get("readonly") or v.get("constant") for v in rules.values())
            # additional properties, flattened keys
            and all(key and "." not in key and "\\" not in key for _, key, _ in fields)
        )
        _PLANS[cls] = (fields, frozenset(key for _, key, _ in fields)) if supported else None
    plan = _PLANS[cls]
    if plan is None:
        raise _Unsupported
    return plan


def _read_model(cls: type[Model], data: Any, deps: dict[str, Any]) -> Model:
    if type(data) is not dict:
        raise _Unsupported
    fields, known = _plan(cls)
    values: dict[str, Any] = {}
    for attr, key, kind in fields:
        raw = data.get(key)
        values[attr] = None if raw is None else _read(raw, kind, deps)
    model = cls(**values)
    extra = {k: v for k, v in data.items() if k not in known}
    if extra:
        model.additional_properties = extra
    return model


def _read(value: Any, kind: str, deps: dict[str, Any]) -> Any:
    basic = _READ_BASIC.get(kind)
    if basic is not None:
        if type(value) is not basic:
            raise _Unsupported
        return value
    if kind == "object":
        return value
    if kind == "iso-8601":  # every Teams activity's timestamps
        if type(value) is not str:
            raise _Unsupported
        try:
            return Deserializer.deserialize_iso(value)  # type: ignore[no-untyped-call]
        except Exception:  # msrest's own path raises its error for the whole activity
            raise _Unsupported from None
    if kind.startswith("[") and kind.endswith("]"):
        if type(value) is not list:
            raise _Unsupported
        inner = kind[1:-1]
        return [None if v is None else _read(v, inner, deps) for v in value]
    if kind.startswith("{") and kind.endswith("}"):
        if type(value) is not dict:
            raise _Unsupported
        inner = kind[1:-1]
        return {k: None if v is None else _read(v, inner, deps) for k, v in value.items()}
    model = deps.get(kind)
    if isinstance(model, type) and issubclass(model, Model):
        return _read_model(model, value, deps)
    raise _Unsupported  # dates, enums, bytes...: msrest's own parsing
