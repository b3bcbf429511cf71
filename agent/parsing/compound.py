"""The head of what was said: of several equipment mentions, the object being worked on."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.parsing.matcher import Match

# Between two nouns of one compound: spaces, a hyphen or slash, at most one unmatched word
# ("pump discharge check valve", "펌프 토출 체크밸브"), and no punctuation.
_COMPOUND_GAP = re.compile(r"^[\s\-/]*(?:([^\s.,;:!?()\[\]]{1,12})[\s\-/]*)?$")
# Words that relate two things rather than join them into one name: "valve near the pump".
_RELATIONS = frozenset(
    "near by at on in of from to for with behind beside next above below under after before "
    "옆 근처 쪽 위 아래 앞 뒤 옆에 근처에 위에 밑 안 밖 및 와 과 랑 후 전".split()
)


def head_of(kept: Sequence[Match], selected: Sequence[Sequence[Match]], norm: str) -> Match:
    """The head of the first compound of equipment mentions: its last noun, in ko and en alike.

    "fuel level sensor" is a sensor, "냉각수 펌프" a pump, "pump motor" a motor; "check valve near
    the pump" is a valve, since "near the" is no compound gap.
    """
    ordered = sorted(kept, key=lambda m: m.start)
    spans = [(g[0].start, g[0].end) for g in selected]
    pick = ordered[0]
    for nxt in ordered[1:]:
        if nxt.start < pick.end:
            continue
        gap = norm[pick.end : nxt.start]
        between = any(pick.end <= s and e <= nxt.start for s, e in spans)
        joined = _COMPOUND_GAP.match(gap)
        if between or joined is None or (joined.group(1) or "") in _RELATIONS:
            break
        pick = nxt
    return pick
