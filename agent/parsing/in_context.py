"""What a catalog match means where it stands: a priority word that is a level or a state, the
failure mode a technician concluded, the words of a field that the history may not read again.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Collection, Sequence

from agent.parsing.matcher import Match

_MEASURE = (
    r"온도|진동|압력|차압|유량|레벨|수위|전류|부하|속도|회전수|temp|temperature|vib|vibration|"
    r"pressure|press|level|flow|current|amps?|load|dp|rpm|speed|vacuum|진공"
)
_LEVEL_WORD = re.compile(r"^(?:high|hi|높음|높다|높아요|높아|높습니다|높네요|과다)$")
# "진동 높음", "temp too high", "high vib": a level, not how urgent the work is.
# Possessive `\s*+`: three optional runs of spaces in a row are otherwise tried in every split,
# cubic in the length of a run of spaces (linear-time regexes: tests/reliability/test_linear_regex).
_LEVEL_BEFORE = re.compile(
    rf"(?:{_MEASURE})\s*+(?:이|가|은|는|도|값)?\s*+(?:too|very|너무|매우|좀|많이|평소보다)?\s*+$"
)
_LEVEL_AFTER = re.compile(rf"^\s*(?:{_MEASURE})(?![a-z])")
# "pressure was normal", "running normal", "twice as fast as normal": a state, not urgency.
_STATE_WORD = re.compile(r"^(?:normal|usual)$")
_STATE_BEFORE = re.compile(
    r"(?:^|\s)(?:is|was|are|were|be|been|looks?|reads?|seems?|runs?|running|as|than|to|still)"
    r"\s*+$"
)

# Words before a conclusion ("think its fouled", "봤더니 막혀있음"), and after one ("누설 의심").
_CONCLUDES = re.compile(
    r"(?:\b(?:think|suspect|probably|looks like|found|turned out)\b"
    r"|봤더니|보니|확인해보니|확인 결과|점검해보니)"
)
_CONCLUDED = re.compile(r"(?:의심|듯|같아|같음|같습|같다|같당|같네|\bsuspected\b)")

# "not leaking", "no visible leak", "isn't really plugged", "누유 없음", "진동은 아니고": a
# failure ruled out. A few qualifiers may stand between ("no signs of wear"), not any word:
# "not urgent pump leaking" still leaks. Matched on a short window either side of the match.
_DENIED_BEFORE = re.compile(
    r"(?:^|[^a-z'])(?:not|no|never|without|isn'?t|wasn'?t|aren'?t|doesn'?t|don'?t|didn'?t)"
    r"\s+(?:(?:really|any|visible|obvious|active|apparent|signs?\s+of|much|actually|yet)\s+)?$"
)
_DENIED_AFTER = re.compile(r"^\s?(?:은|는|이|가|도)?\s?(?:없|아니|아님)")
_WINDOW = 32


def _said_around(
    norm: str, group: Sequence[Match], before: re.Pattern[str], after: re.Pattern[str], span: int
) -> bool:
    """Whether a failure-mode match has `before` in the words just before it or `after` in
    the `span` characters just after it."""
    m = group[0]
    if any(g.entry.category != "failure_mode" for g in group):
        return False
    return bool(
        before.search(norm[max(0, m.start - _WINDOW) : m.start])
        or after.match(norm[m.end : m.end + span])
    )


def denied(norm: str, group: Sequence[Match]) -> bool:
    """A failure-mode match the text rules out ("not leaking", "누유 없음")."""
    return _said_around(norm, group, _DENIED_BEFORE, _DENIED_AFTER, 8)


# "line will stop if it hits 80", "could trip", "before it fails", "멈출 수 있어서", "넘치기 전에",
# "멈추면": a failure feared, not the one found. A few words may stand between the modal and the
# failure ("will eventually seize"), never "be" ("might be leaking" is a suspicion: it is coded)
# nor "not" ("will not start" is found).
_FEARED_BEFORE = re.compile(
    r"(?:^|[^a-z'])(?:will|would|could|might|may|can|gonna|going to|about to|risk of|before it"
    r"|if it|or it|or else it)\s++(?:(?:get|also|eventually|soon|end up)\s++)?$"
)
_FEARED_AFTER = re.compile(
    r"^\s?(?:[\uac00-\ud7a3]{1,3}\s)?(?:수\s?(?:도\s?)?있|기\s?전|으?면(?![\uac00-\ud7a3]))"
)


def feared(norm: str, group: Sequence[Match]) -> bool:
    """A failure-mode match the text fears rather than reports ("could trip")."""
    return _said_around(norm, group, _FEARED_BEFORE, _FEARED_AFTER, 12)


def named_failure(
    kept: Sequence[Match], norm: str, catch_all: Collection[tuple[str, str]]
) -> Match:
    """Of several failure modes, the one coded: "breakdown" (`catch_all`) only when nothing more
    particular is named ("coil burnt, won't open" is a failure to open), then the concluded one,
    then the first."""
    named = [m for m in kept if (m.entry.category, m.entry.code) not in catch_all]
    pool = named or kept
    return diagnosed(pool, norm) or min(pool, key=lambda m: m.start)


def diagnosed(kept: Sequence[Match], norm: str) -> Match | None:
    """The failure mode a technician concluded ("dP up, think its fouled", "봤더니 막혀있음",
    "내부 누설 의심"), over the symptoms that led there; a suspicion stated ("막힌 듯") over what
    a look found on the way ("두드려보니 꽉 찬 소리남"). Linear in the text: `kept` are
    non-overlapping spans, so ordered by start they are ordered by end too."""
    if not kept:
        return None
    spans = sorted(kept, key=lambda m: m.start)
    starts = [m.start for m in spans]
    for cue in _CONCLUDED.finditer(norm):
        # Right before the word, or ending with it (a phrase such as "막힘 의심"): the last span
        # starting before it, if it ends within 6 characters of it.
        i = bisect_left(starts, cue.start()) - 1
        if i >= 0 and cue.start() - spans[i].end <= 6:
            return spans[i]
    # The first cue with a failure named after it; the first such failure.
    for cue in _CONCLUDES.finditer(norm):
        i = bisect_left(starts, cue.end())
        if i < len(spans):
            return spans[i]
    return None


def said(
    selected: Sequence[list[Match]],
    levels: Sequence[Match],
    tags: Sequence[tuple[int, int]] = (),
    ruled_out: Sequence[Match] = (),
) -> dict[str, list[tuple[int, int]]]:
    """Per field stated, not inferred (where, how soon), the spans the catalog read as something
    else: "pump" names the machine, not its area, though most pumps of a history sit in one,
    and so does a tag ("V-201", `tags`) whatever area its number was seen in; the "high" of
    "vib high" is a level (`levels`), not urgency; a failure `ruled_out` ("not leaking") is no
    evidence of itself."""
    things = [
        (g[0].start, g[0].end)
        for g in selected
        if g[0].entry.category in ("equipment", "failure_mode")
    ]
    places = [(g[0].start, g[0].end) for g in selected if g[0].entry.category == "location"]
    asks = [
        (g[0].start, g[0].end) for g in selected if g[0].entry.category in ("priority", "activity")
    ]
    return {
        "location": [*things, *tags],
        "priority": [*things, *places, *((m.start, m.end) for m in levels)],
        "failure_mode": [*places, *asks, *((m.start, m.end) for m in ruled_out)],
    }


_LABEL = re.compile(r"(?:priority|prio|우선순위)")


def stated_priority(kept: Sequence[Match]) -> Match:
    """Of several priority phrases, one that says "priority" ("low priority: ... high bay ...");
    else the last: a time frame after a hedge says how soon."""
    labelled = [m for m in kept if _LABEL.search(m.surface)]
    return max(labelled or kept, key=lambda m: m.start)


def no_urgency(norm: str, group: Sequence[Match]) -> bool:
    """A priority match that is no urgency: a measured level ("vib high"), an inflection of a
    priority word or the first half of a hyphenated name."""
    m = group[0]
    if any(g.entry.category != "priority" for g in group):
        return False
    # Urgency is said in set words: "normally" is not "normal", and "high-bay lights" or a
    # "low-voltage panel" name a thing, not how soon to come.
    if all(g.method == "stem" for g in group) or norm[m.end : m.end + 1] == "-":
        return True
    word = m.surface.strip()
    if _STATE_WORD.match(word):
        return bool(_STATE_BEFORE.search(norm[: m.start]))
    if not _LEVEL_WORD.match(word):
        return False
    return bool(_LEVEL_BEFORE.search(norm[: m.start]) or _LEVEL_AFTER.search(norm[m.end :]))
