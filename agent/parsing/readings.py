"""A reading set against its normal as the failure it shows: "권선온도 135도 알람 평소 95도" is
overheating, "pressure only gets to 90 bar instead of 140" low output. The history cannot learn
this (numbers are not words it can count) and the catalog names no number, so it is read here,
with the rules and words in readings.yaml. Every pattern runs on a short window after a measure
word, so the cost stays linear in the text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from adapters.domain import CatalogEntry
from agent.parsing.lexicon import resolve

_NUM = r"([-+]?\d+(?:\.\d+)?)"
_WINDOW = 48
# A reading differs from its normal when it is off by more than this share of it.
_MARGIN = 0.05


def _alternation(words: Iterable[str]) -> str:
    """Longest first, so "disch temp" is tried before "temp"."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@dataclass(frozen=True)
class _Rule:
    entry: CatalogEntry
    above: bool
    measure: re.Pattern[str]


class Readings:
    """The failure modes a catalog's readings can show, by the rules of readings.yaml."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        raw: dict[str, Any] = yaml.safe_load(
            resources.files(__package__).joinpath("readings.yaml").read_text(encoding="utf-8")
        )
        entries = list(entries)
        rules = []
        for rule in raw["rules"]:
            entry = resolve(map(str, rule["anchors"]), "failure_mode", entries)
            if entry is None:
                continue
            # A latin measure word stands alone ("temp", not "temporary"); Korean ones attach.
            measure = re.compile(
                rf"(?<![a-z])(?:{_alternation(map(str, rule['measures']))})(?![a-z])"
            )
            rules.append(_Rule(entry, bool(rule["above"]), measure))
        self._rules = tuple(rules)
        after = _alternation(map(str, raw["normal_after"]))
        before = _alternation(map(str, raw["normal_before"]))
        moved = _alternation(map(str, raw["moved"]))
        # "105c (normal 80)", "75도, 평소 45도", "90 bar instead of 140"
        self._then_normal = re.compile(
            rf"^\D{{0,16}}?{_NUM}\D{{0,16}}?(?:{after})\D{{0,16}}?{_NUM}"
        )
        # "설정 180도 현재 95도"
        self._normal_then = re.compile(
            rf"^\D{{0,12}}?(?:{before})\D{{0,4}}?{_NUM}\D{{1,16}}?{_NUM}"
        )
        # "58→67c", "-720에서 -650"
        self._moved = re.compile(rf"^\D{{0,16}}?{_NUM}\s*(?:{moved})\s*{_NUM}")

    def __bool__(self) -> bool:
        return bool(self._rules)

    def failure(self, norm: str) -> tuple[CatalogEntry, str] | None:
        """The failure mode the first telling reading of a normalized text shows, and its words."""
        for rule in self._rules:
            for m in rule.measure.finditer(norm):
                window = norm[m.end() : m.end() + _WINDOW]
                compared = self._compare(window)
                if compared is None:
                    continue
                now, normal, end = compared
                if (now > normal * (1 + _MARGIN)) if rule.above else (now < normal * (1 - _MARGIN)):
                    return rule.entry, norm[m.start() : m.end() + end]
        return None

    def _compare(self, window: str) -> tuple[float, float, int] | None:
        """(reading, its normal, where they end) in the words after a measure, if they give both."""
        if m := self._then_normal.match(window):
            now, normal = float(m.group(1)), float(m.group(2))
        elif m := self._normal_then.match(window):
            normal, now = float(m.group(1)), float(m.group(2))
        elif m := self._moved.match(window):
            normal, now = float(m.group(1)), float(m.group(2))
        else:
            return None
        if now <= 0 and normal <= 0:  # a vacuum: "-0.6 (normal -0.9)" is the weaker one
            now, normal = -now, -normal
        if normal <= 0:
            return None
        return now, normal, m.end()
