"""Hostile requests against the running app: never a 5xx, right refusals, healthy afterwards."""

from __future__ import annotations

import pytest

from tests.bot.conftest import Running
from tests.reliability.hostile import CASES, KNOWN_BUGS, Case, run_case


def test_the_table_is_big_and_named_uniquely() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 100 and len(set(ids)) == len(ids)


def _param(case: Case) -> object:
    bug = KNOWN_BUGS.get(case.id)
    marks = [pytest.mark.xfail(reason=bug, strict=True, raises=AssertionError)] if bug else []
    return pytest.param(case, id=case.id, marks=marks)


def test_known_bugs_name_real_cases() -> None:
    assert set(KNOWN_BUGS) <= {c.id for c in CASES}


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
async def test_hostile_request_is_answered_cleanly(served: Running, case: Case) -> None:
    await run_case(served, case)


async def test_healthy_after_the_table(served: Running) -> None:
    for path in ("/healthz", "/readyz"):
        async with served.http.get(served.base + path) as resp:
            assert resp.status == 200, (path, await resp.text())
