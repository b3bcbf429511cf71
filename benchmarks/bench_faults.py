"""Fault benchmark: the hostile table, concurrent turns and double thumbs against the real app.

Starts the aiohttp app in-process on loopback with the local Bot Connector/OpenID/Slack stub of
tests/bot and a generated plant, then prints one table:
hostile inputs answered cleanly (no 5xx, right refusal, healthy after), turns answered exactly
once, thumbs (each posted twice) stored exactly once -- goal: 0 lost -- and the time per hostile
request against the time per GET /healthz measured in the same run.

    .venv/bin/python benchmarks/bench_faults.py            # 20 conversations x 5 turns
    .venv/bin/python benchmarks/bench_faults.py --quick    # 5 x 2
    .venv/bin/python benchmarks/bench_faults.py --dependencies   # + killed dependencies
    .venv/bin/python benchmarks/bench_faults.py --serve   # against a PostgreSQL-backed `pmark serve`

--serve runs the same table against `pmark serve` as a subprocess, its application database and
checkpoints on a private PostgreSQL cluster (tests/reliability/servers.py), instead of the app
in-process on SQLite.

--dependencies then also prints benchmarks/bench_dependencies.py's table: a PostgreSQL-backed
`pmark serve` under concurrent conversations while its PostgreSQL, Weaviate and LLM fail.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.context import PMark  # noqa: E402
from bot.app import FEEDBACK, build_app  # noqa: E402
from tests.bot.conftest import Running, endpoints_for, make_settings, start  # noqa: E402
from tests.bot.support import Stub, teams_invoke, teams_message, write_plant  # noqa: E402
from tests.reliability.hostile import CASES, run_case  # noqa: E402

TEXTS = ("2공장 냉각수 펌프 누유, 긴급", "1공장 압축기 진동 높음", "2공장 모터 과열 긴급")


async def _healthy(r: Running | Served) -> bool:
    for path in ("/healthz", "/readyz"):
        async with r.http.get(r.base + path) as resp:
            if resp.status != 200:
                return False
    return True


async def _hostile(r: Running | Served) -> tuple[int, int, float, list[str]]:
    clean, failed, spent = 0, [], 0.0
    for case in CASES:
        started = time.perf_counter()
        try:
            await run_case(r, case)
            clean += 1
        except AssertionError:
            failed.append(case.id)
        spent += time.perf_counter() - started
    if not await _healthy(r):
        clean = 0
    return len(CASES), clean, spent / len(CASES), failed


async def _healthz_seconds(r: Running | Served, n: int = 200) -> float:
    started = time.perf_counter()
    for _ in range(n):
        async with r.http.get(r.base + "/healthz") as resp:
            await resp.read()
    return (time.perf_counter() - started) / n


def _replies(stub: Stub, activity_id: str) -> list[Any]:
    return [r for r in stub.connector("message") if r.body.get("replyToId") == activity_id]


async def _conversation(r: Running | Served, n: int, turns: int) -> list[str]:
    ids = []
    conv = f"19:bench-{n}-{uuid.uuid4().hex[:6]}@thread.tacv2"
    for t in range(turns):
        activity = teams_message(
            r.service_url,
            TEXTS[(n + t) % len(TEXTS)],
            conversation=conv,
            chain=f"c{t}",
            user=f"29:bench-{n}",
            aad=f"aad-bench-{n}",
        )
        await r.post_activity(activity)
        ids.append(activity["id"])
        deadline = time.monotonic() + 120
        while not _replies(r.stub, activity["id"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    return ids


def _votes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if node.get("verb") == "pmark.vote" else []
        return own + [v for x in node.values() for v in _votes(x)]
    if isinstance(node, list):
        return [v for x in node for v in _votes(x)]
    return []


@dataclass
class Served:
    """A `pmark serve` subprocess as a hostile-table target (what tests.bot.conftest.Running has)."""

    base: str
    stub: Stub
    http: aiohttp.ClientSession

    @property
    def service_url(self) -> str:
        return self.stub.base + "/"

    post_activity = Running.post_activity


async def _thumbs(
    r: Running | Served, activity_ids: list[str], stored: Callable[[], int]
) -> tuple[int, int]:
    before, sent = stored(), 0
    for activity_id in activity_ids:
        replies = _replies(r.stub, activity_id)
        votes = _votes(replies[0].body.get("attachments")) if replies else []
        if not votes:
            continue
        vote = votes[0]
        value = {"action": {"type": "Action.Execute", "verb": vote["verb"], "data": vote["data"]}}
        invoke = teams_invoke(
            r.service_url,
            "adaptiveCard/action",
            value,
            aad=f"aad-thumb-{sent}",
            conversation=replies[0].body["conversation"]["id"],
        )
        for _ in range(2):
            await r.post_activity(invoke)
        sent += 1
    return sent, stored() - before


def _row(name: str, tried: int, ok: int) -> str:
    pct = 100.0 * ok / tried if tried else 0.0
    return f"{name:<34}{tried:>8}{ok:>10}{pct:>9.1f}%{tried - ok:>7}"


async def _run(
    r: Running | Served, stub: Stub, conversations: int, turns: int, stored: Callable[[], int]
) -> tuple[float, int, int, float, list[str], list[str], int, int, int, bool]:
    base = await _healthz_seconds(r)
    tried, clean, per_case, failed = await _hostile(r)
    ids = await asyncio.gather(*(_conversation(r, n, turns) for n in range(conversations)))
    flat = [i for conv in ids for i in conv]
    await asyncio.sleep(1.0)
    once = sum(1 for i in flat if len(_replies(stub, i)) == 1)
    thumbs, kept = await _thumbs(r, flat, stored)
    healthy = await _healthy(r)
    return base, tried, clean, per_case, failed, flat, once, thumbs, kept, healthy


async def _served(conversations: int, turns: int) -> tuple[Any, ...]:
    """The run against a PostgreSQL-backed `pmark serve` subprocess."""
    from tests.reliability.dependencies import import_plant
    from tests.reliability.servers import APP_DB, PmarkServe, PrivatePostgres

    stub = Stub()
    await stub.start()
    pg = await asyncio.to_thread(PrivatePostgres.create)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            serve = PmarkServe(Path(tmp) / "data", stub, pg=pg)
            await asyncio.to_thread(import_plant, serve, Path(tmp) / "csv")
            await serve.start()
            http = aiohttp.ClientSession()
            try:

                def stored() -> int:
                    return int(pg.query(APP_DB, "select count(*) from feedback")[0][0])

                return await _run(
                    Served(serve.base, stub, http), stub, conversations, turns, stored
                )
            finally:
                await http.close()
                await serve.stop()
    finally:
        await asyncio.to_thread(pg.destroy)
        await stub.stop()


async def main(conversations: int, turns: int, served: bool = False) -> int:
    if served:
        results = await _served(conversations, turns)
    else:
        results = await _in_process(conversations, turns)
    base, tried, clean, per_case, failed, flat, once, thumbs, stored, healthy = results
    where = "PostgreSQL-backed `pmark serve`" if served else "in-process app on SQLite"
    print(f"against: {where}")
    print(f"{'':<34}{'sent':>8}{'ok':>10}{'ok %':>10}{'lost':>7}")
    print(_row("hostile inputs / answered cleanly", tried, clean))
    print(_row("turns / answered exactly once", len(flat), once))
    print(_row("thumbs (x2) / stored exactly once", thumbs, stored if stored == thumbs else 0))
    print(f"healthy at the end: {healthy}")
    print(
        f"time per hostile request {per_case * 1000:.1f} ms vs GET /healthz "
        f"{base * 1000:.2f} ms: ratio {per_case / base:.1f}x"
    )
    if failed:
        print("not answered cleanly: " + ", ".join(failed))
    lost = (tried - clean) + (len(flat) - once) + (thumbs - stored)
    return 0 if lost == 0 and healthy else 1


async def _in_process(conversations: int, turns: int) -> tuple[Any, ...]:
    """The run against the app in this process, on SQLite."""
    stub = Stub()
    await stub.start()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalog, history = write_plant(folder / "csv")
        ctx = PMark(make_settings(folder / "data", stub))
        ctx.import_catalog(catalog, replace=True)
        ctx.import_notifications(history)
        app = build_app(ctx.settings, ctx=ctx, endpoints=endpoints_for(stub))
        runner, r = await start(app, stub)
        try:
            return await _run(r, stub, conversations, turns, r.app[FEEDBACK].repo.feedback_count)
        finally:
            await r.http.close()
            await runner.cleanup()
            await stub.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="5 conversations x 2 turns")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="against a PostgreSQL-backed `pmark serve` subprocess instead of the in-process app",
    )
    parser.add_argument(
        "--dependencies",
        action="store_true",
        help="also kill PostgreSQL, Weaviate and the LLM under a served app's load",
    )
    args = parser.parse_args()
    n, m = (5, 2) if args.quick else (args.conversations, args.turns)
    status = asyncio.run(main(n, m, args.serve))
    if args.dependencies:
        from benchmarks.bench_dependencies import cli as dependencies

        print()
        print("killed dependencies (benchmarks/bench_dependencies.py)")
        status = max(status, dependencies(["--conversations", str(3 if args.quick else 6)]))
    sys.exit(status)
