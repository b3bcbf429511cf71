"""Every regex that sees user-controlled text runs in linear time.

Each one gets adversarial texts (runs of the characters its pattern is made of, repeated
fragments of its literals, and the attacks found against it) at growing sizes up to a megabyte.
Its time is compared with a plain scan of the same text (a Python loop over every character,
measured alongside), never with a wall-clock figure: a linear regex stays within a constant
factor of the scan at every size, a quadratic one falls further behind at each step. The ladder
stops at the first size where a regex is over the bound, so a quadratic one fails in seconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import adapters.llm.client as llm_client
import adapters.text.tokenizer as tokenizer
import agent.intent as intent
import agent.nodes.respond as respond
import agent.nodes.validate as validate
import agent.parsing.in_context as in_context
import agent.parsing.llm_extract as llm_extract
import agent.parsing.parser as parser
import agent.parsing.tags as tags
import agent.parsing.textnorm as textnorm
from adapters.domain import CatalogEntry
from adapters.logging_redact import SecretRedactor
from agent.parsing.matcher import _pattern
from agent.parsing.readings import Readings
from agent.parsing.stem_phrases import StemPhrases
from bot.slack import _MENTION, _text

SIZES = (1_024, 16_384, 262_144, 1_048_576)
# A linear regex over these texts takes 0.1-35x the per-character loop (up to 3x that on a busy
# machine); a quadratic one falls behind with the size: 1,000x at 16 KB, 10,000x and more at a
# megabyte. The bound sits between the two.
MAX_RATIO = 250.0
KEEP = 2  # besides the known attacks, the worst texts carried on to the next size


@dataclass(frozen=True)
class Subject:
    """A regex (or the function wrapping it) as PMark applies it to a text."""

    id: str
    run: Callable[[str], object]
    source: str  # characters the attack texts are made of
    attacks: tuple[str, ...] = ()


def _all(pattern: re.Pattern[str]) -> Callable[[str], object]:
    """What PMark does with a pattern: search, scan all matches and substitute."""

    def run(text: str) -> object:
        pattern.search(text)
        for _ in pattern.finditer(text):
            pass
        return pattern.sub("", text)

    return run


_REDACTOR = SecretRedactor(["pmark-db-password", "xoxb-secret-token"])
_READINGS = Readings(
    [
        CatalogEntry("failure_mode", "O", "과열", "Overheating"),
        CatalogEntry("failure_mode", "L", "출력 저하", "Low output"),
    ]
)

_STEMS = StemPhrases(
    (CatalogEntry("failure_mode", "F", "", "Lifts early"), form, "exact", 0.9)
    for form in ("lifts early", "fail to close", "a b c d e")
)

SUBJECTS = [
    Subject(
        "logging_redact.redact",
        _REDACTOR.redact,
        "ab1+.-:/@ ",
        ("a", "a1", "a://b:", "a://b:c", "a://:c@", "1://a:b@", "postgresql://pmark:"),
    ),
    Subject("slack.mention", _all(_MENTION), "<@U|> ", ("<@U|", "<@UUU", "<@U|x")),
    Subject("slack.text", _text, "<@U|> ", ("<@U|", "<@U")),
    Subject(
        "llm_extract.delimiter", _all(llm_extract._DELIMITER), "< /message>", ("<", "< ", "</ ")
    ),
    Subject(
        "parser.level_before", _all(in_context._LEVEL_BEFORE), "온도 이too", ("온도", "온도 ", " ")
    ),
    Subject("in_context.level_after", _all(in_context._LEVEL_AFTER), "온도 temp", (" ",)),
    Subject("in_context.level_word", _all(in_context._LEVEL_WORD), "high 높음", ("high",)),
    Subject(
        "parser.concludes", _all(in_context._CONCLUDES), "think 봤더니 ", ("think", "봤더", " ")
    ),
    Subject(
        "in_context.concluded", _all(in_context._CONCLUDED), "의심 같아요 ", ("의", "같아", " ")
    ),
    Subject(
        "in_context.denied_before",
        _all(in_context._DENIED_BEFORE),
        "not signs of ",
        ("not", "not ", " ", "no signs "),
    ),
    Subject("in_context.denied_after", _all(in_context._DENIED_AFTER), "은 없", (" ", "은 ")),
    Subject(
        "in_context.feared_before",
        _all(in_context._FEARED_BEFORE),
        "will get ",
        ("will", "will ", " ", "will get "),
    ),
    Subject("in_context.feared_after", _all(in_context._FEARED_AFTER), "생길 수 있", (" ", "생 ")),
    Subject(
        "readings.failure",
        _READINGS.failure,
        "온도 1.5 평소→",
        ("온도 ", "temp 1", "진공 -1에서 ", "temp 9 normal "),
    ),
    Subject("in_context.label", _all(in_context._LABEL), "priority 우선순위", ("prio",)),
    Subject("stem_phrases.find", _STEMS.find, "a lifting-", ("a ", "lifting ", "a b c d ")),
    Subject(
        "in_context.state_before", _all(in_context._STATE_BEFORE), "was as ", ("was", " ", "as ")
    ),
    Subject(
        "parser.priority_number",
        _all(parser._PRIORITY_NUMBER),
        "priority 우선순위:=1",
        ("priority", "priority ", "우선", "우선 ", "pri: "),
    ),
    Subject("intent.new", _all(intent._NEW), "새 건new issue", (" ", "새 ")),
    Subject("intent.correction", _all(intent._CORRECTION), "이 아니라no", ("이 ", " ")),
    Subject("intent.followup", _all(intent._FOLLOWUP), "첫 번째건#1no.", ("첫 ", "# ", "no. ")),
    Subject("intent.detail", _all(intent._DETAIL), "더 보what about", ("더 ", "what ")),
    Subject("tags.tag", _all(tags._TAG), "P-101A", ("P-1", "PP101", "P-", "1")),
    Subject("textnorm.token", _all(textnorm.TOKEN), "a1/&.가", ("a.", "a/", "a")),
    Subject("textnorm.control", _all(textnorm._CONTROL), "a\x01", ("\x01",)),
    Subject("tokenizer.ascii_run", _all(tokenizer._ASCII_RUN), "a1-/._", ("a-", "a.")),
    Subject("validate.control", _all(validate._CONTROL), "a\x01", ("\x01",)),
    Subject("respond.itemno_cite", _all(respond._ITEMNO_CITE), "[a-_]", ("[a", "[aaa")),
    Subject(
        "llm_client.think", _all(llm_client._THINK), "<think> </think>", ("<think>", "```", " ")
    ),
    Subject(
        "llm_client.unfence", llm_client._unfence, "``` json", ("```", " ", "```json ", "```json")
    ),
    Subject(
        "matcher.catalog_form",
        _all(_pattern("2공장 냉각수 pump")),
        "2공장 냉각수 pump-_/",
        ("2", "2 ", "2공장 ", "2공장 냉각수 ", "2공장 냉각수 -"),
    ),
]


def _shapes(subject: Subject) -> list[tuple[str, str]]:
    """(head, filler) of every attack text: the head once, then the filler repeated."""
    units = {*subject.source, *subject.attacks}
    # Every pair of source characters too: "a:" repeated, "<@" repeated, "1a" repeated...
    units |= {a + b for a in subject.source for b in subject.source if a != b}
    shapes = {("", unit) for unit in units}
    # A known start, then a long run: "온도" and a megabyte of spaces that never end the match.
    shapes |= {(a, c) for a in subject.attacks for c in {*subject.source, "x"}}
    return sorted(shapes)


def _text_of(shape: tuple[str, str], size: int) -> str:
    head, filler = shape
    body = (head + filler * (size // len(filler) + 1))[:size]
    return body + "#" if head else body


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _plain_scan(text: str) -> int:
    """The baseline: look at every character once."""
    count = 0
    for ch in text:
        if ch == "\x00":
            count += 1
    return count


@pytest.mark.parametrize("subject", SUBJECTS, ids=lambda s: s.id)
def test_regex_is_linear_in_the_text(subject: Subject) -> None:
    shapes = _shapes(subject)
    for size in SIZES:
        repeat = 5 if size < 100_000 else 1
        ratios: dict[tuple[str, str], float] = {}
        for shape in shapes:
            text = _text_of(shape, size)
            spent = _best(lambda: subject.run(text), repeat)  # noqa: B023
            ratios[shape] = spent / _best(lambda: _plain_scan(text), repeat)  # noqa: B023
        shape = max(ratios, key=ratios.__getitem__)
        assert ratios[shape] <= MAX_RATIO, (
            f"{subject.id}: {ratios[shape]:.0f}x a plain scan on {size:,} characters "
            f"of {shape[0]!r} then {shape[1]!r} repeated"
        )
        # The worst texts go on to the next size (all of them would cost minutes a megabyte).
        worst = sorted(shapes, key=ratios.__getitem__)[-KEEP:]
        shapes = sorted({*((a, c) for a in subject.attacks for c in " x"), *worst})


def test_url_passwords_are_still_masked() -> None:
    """The linear rewrite masks what the pattern masked (and nothing more)."""
    redact = SecretRedactor().redact
    assert (
        redact("dsn postgresql://pmark:s3cret@db:5432/x") == "dsn postgresql://pmark:***@db:5432/x"
    )
    assert redact("1abc://u:p@h") == "1abc://u:***@h"
    assert redact("a+b.c-d://:p@h and x://u:q@h") == "a+b.c-d://:***@h and x://u:***@h"
    assert redact("123://u:p@h") == "123://u:p@h"  # no letter: not a scheme
    assert redact("http://u@h http://u:p/h http://h:80/a@b") == (
        "http://u@h http://u:p/h http://h:80/a@b"
    )
    assert redact("http://u:p q@h") == "http://u:p q@h"
