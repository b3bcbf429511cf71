"""`pmark serve --workers 2` on PostgreSQL: both workers serve one port, a conversation's turns
and a redelivery are handled once whichever worker takes them, a killed worker comes back, and
SIGTERM stops them all."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from tests.bot.support import teams_message
from tests.reliability.dependencies import TimedStub, import_plant
from tests.reliability.servers import PmarkServe, PrivatePostgres, require_tools


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[PmarkServe, TimedStub]]:
    require_tools(postgres_only=True)
    stub = TimedStub()
    await stub.start()
    pg = await asyncio.to_thread(PrivatePostgres.create)
    serve = PmarkServe(tmp_path / "data", stub, pg=pg, workers=2)
    try:
        await asyncio.to_thread(import_plant, serve, tmp_path / "csv")
        await serve.start()
        await _all_workers_up(serve)
        yield serve, stub
    finally:
        await serve.stop()
        await asyncio.to_thread(pg.destroy)
        await stub.stop()


async def _worker_indexes(base: str, tries: int = 40) -> set[int]:
    """Which workers answer /healthz over fresh connections (the kernel picks per connection)."""
    seen: set[int] = set()
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(tries):
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200
                seen.add(int((await resp.json())["worker"]))
    return seen


async def _all_workers_up(serve: PmarkServe, timeout: float = 240.0) -> None:
    """Worker 0 answers first; the others start once it does."""
    deadline = time.monotonic() + timeout
    while await _worker_indexes(serve.base, tries=10) != {0, 1}:
        if time.monotonic() > deadline:
            raise AssertionError("worker 1 did not start:\n" + serve.tail())
        await asyncio.sleep(1.0)


def _workers_of(serve: PmarkServe) -> list[psutil.Process]:
    assert serve.proc is not None
    return psutil.Process(serve.proc.pid).children()


async def _post(base: str, token: str, activity: dict[str, Any]) -> int:
    # A connection per request, so requests spread over the workers.
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(
            f"{base}/api/messages", json=activity, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        return resp.status


async def _answers(stub: TimedStub, activity_id: str, settle: float = 0.0) -> list[Any]:
    await stub.wait_for(lambda: stub.replies.get(activity_id), timeout=90)
    if settle:
        await asyncio.sleep(settle)
    return [rec for _, rec in stub.replies.get(activity_id, [])]


async def test_two_workers_share_the_port_and_answer_each_turn_once(
    served: tuple[PmarkServe, TimedStub],
) -> None:
    serve, stub = served
    assert len(_workers_of(serve)) == 2
    assert await _worker_indexes(serve.base) == {0, 1}
    service = stub.base + "/"
    token = stub.channel_token(service)

    # Six conversations, each sent three messages at once over separate connections: whichever
    # worker takes a message, the conversation's lock (PostgreSQL) lets one turn in at a time.
    texts = ("2공장 냉각수 펌프 누유", "긴급", "1공장 압축기 진동 높음")
    sent: list[dict[str, Any]] = [
        teams_message(service, text, chain=f"w{c}", aad=f"aad-w{c}")
        for c in range(6)
        for text in texts
    ]
    statuses = await asyncio.gather(*(_post(serve.base, token, a) for a in sent))
    assert statuses == [200] * len(sent)

    # One delivery, redelivered five times at once: claimed in the database, answered once.
    again = teams_message(service, "3공장 모터 과열 즉시 점검", chain="w-redeliver")
    statuses = await asyncio.gather(*(_post(serve.base, token, again) for _ in range(6)))
    assert statuses == [200] * 6

    for activity in [*sent, again]:
        replies = await _answers(stub, activity["id"])
        conversation = activity["conversation"]["id"]
        assert all(r.body["conversation"]["id"] == conversation for r in replies)
    await asyncio.sleep(2.0)  # a second answer would have arrived by now
    for activity in [*sent, again]:
        assert len(stub.replies[activity["id"]]) == 1, activity["text"]
    log = serve.log.read_text(errors="replace")
    assert "[w0]" in log and "[w1]" in log
    assert "Traceback" not in log, serve.tail()


async def test_a_killed_worker_is_restarted_and_sigterm_stops_every_worker(
    served: tuple[PmarkServe, TimedStub],
) -> None:
    serve, stub = served
    before = _workers_of(serve)
    assert len(before) == 2
    victim = before[1]
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    # Meanwhile the other worker serves: nothing is refused.
    service = stub.base + "/"
    activity = teams_message(service, "2공장 냉각수 펌프 누유, 긴급", chain="w-kill")
    assert await _post(serve.base, stub.channel_token(service), activity) == 200
    assert len(await _answers(stub, activity["id"])) == 1

    await _all_workers_up(serve)
    assert victim.pid not in {p.pid for p in _workers_of(serve)}
    assert "restarting in" in serve.log.read_text(errors="replace")

    workers = _workers_of(serve)
    assert await serve.stop(timeout=30) == 0, serve.tail()
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, [p.pid for p in alive]
