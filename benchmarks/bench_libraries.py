"""Kept libraries against the hand-written code they replaced, on the hot paths.

Each line: the replaced code (baseline, reproduced here as it was) and the library as PMark now
uses it, in the same run, with the ratio (library / baseline; below 1 is faster).

    python benchmarks/bench_libraries.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import timeit
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from cachetools import LRUCache, TTLCache

from adapters.llm.schema import schema_errors
from agent.parsing.textnorm import stem_en

# --- the replaced code, as it was ----------------------------------------------------------

_L = [chr(c) for c in range(0x1100, 0x1113)]
_V = [chr(c) for c in range(0x1161, 0x1176)]
_T = [""] + [chr(c) for c in range(0x11A8, 0x11C3)]


def old_jamo(text: str) -> str:
    out: list[str] = []
    for ch in text:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out.extend((_L[code // 588], _V[(code % 588) // 28], _T[code % 28]))
        else:
            out.append(ch)
    return "".join(out)


_OLD_SUFFIX_EN = ("ings", "ing", "ions", "ion", "ed", "es", "s")


def old_stem_en(word: str) -> str:
    for suffix in _OLD_SUFFIX_EN:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word.rstrip("e") if len(word) > 4 else word


def old_lru_round(cache: OrderedDict[str, Any], keys: list[str], value: Any, size: int) -> None:
    for key in keys:
        row = cache.get(key)
        if row is None:
            cache[key] = value
            cache.move_to_end(key)
            while len(cache) > size:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)


def new_lru_round(cache: LRUCache[str, Any], keys: list[str], value: Any, size: int) -> None:
    for key in keys:
        if cache.get(key) is None:
            cache[key] = value


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def old_schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """The hand-written checker's core (type, enum, properties, required, extra keys)."""
    errors: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        ok = any(
            isinstance(value, _TYPES[n]) and not (n in ("number", "integer") and value is True)
            for n in names
        )
        if not ok:
            return [f"{path}: expected {'|'.join(names)}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required {key!r}")
        for key, item in value.items():
            if key in properties:
                errors.extend(old_schema_errors(item, properties[key], f"{path}.{key}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property {key!r}")
    return errors


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        f: {"type": ["string", "null"], "enum": [None, "A", "B", "C", "D"]}
        for f in ("location", "equipment", "failure_mode", "priority")
    },
    "required": ["location", "equipment", "failure_mode", "priority"],
    "additionalProperties": False,
}
STEM_WORDS = ("leaking", "vibration", "bearings", "overheated", "pump", "seal", "noisy", "motors")
ANSWER = {"location": "A", "equipment": None, "failure_mode": "C", "priority": "D"}


def best(fn: Callable[[], object], number: int, rounds: int) -> float:
    """Best per-call time in microseconds."""
    return min(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    rounds = ap.parse_args().rounds
    word = "냉각수펌프메카니컬씰누유"
    assert old_jamo(word) == unicodedata.normalize("NFD", word)
    vector = np.zeros(512, dtype=np.float32)
    keys = [f"text {i % 300}" for i in range(40)]
    old_cache: OrderedDict[str, Any] = OrderedDict()
    new_cache: LRUCache[str, Any] = LRUCache(4096)
    ttl: TTLCache[str, Any] = TTLCache(1024, 300.0)
    ttl["k"] = {"answer": 1}
    rows = [
        (
            "jamo() of a 12-syllable token",
            lambda: old_jamo(word),
            lambda: unicodedata.normalize("NFD", word),
            20_000,
        ),
        (
            "English stem, 8 words (Snowball via PyStemmer)",
            lambda: [old_stem_en(w) for w in STEM_WORDS],
            lambda: [stem_en(w) for w in STEM_WORDS],
            20_000,
        ),
        (
            "embedding cache, 40 lookups (kept OrderedDict)",
            lambda: old_lru_round(old_cache, keys, vector, 4096),
            lambda: new_lru_round(new_cache, keys, vector, 4096),
            2_000,
        ),
        (
            "LLM answer cache hit",
            lambda: old_cache.get("text 1"),
            lambda: ttl.get("k"),
            50_000,
        ),
        (
            "LLM answer schema check",
            lambda: old_schema_errors(ANSWER, SCHEMA),
            lambda: schema_errors(ANSWER, SCHEMA),
            2_000,
        ),
    ]
    print(f"{'what':48} {'before µs':>10} {'library µs':>11} {'ratio':>7}")
    for name, before, after, number in rows:
        b, a = best(before, number, rounds), best(after, number, rounds)
        print(f"{name:48} {b:10.2f} {a:11.2f} {a / b:7.2f}")
    print("For scale: a turn takes ~15-40 ms (README, bench_turn.py); an LLM call takes 0.1-8 s.")


if __name__ == "__main__":
    main()
