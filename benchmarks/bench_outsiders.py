"""Outsider benchmark: what hostile requests and a Bot Framework key outage cost a `pmark serve`.

Starts `pmark serve` as a subprocess with Teams and Slack credentials (tests/reliability/servers.py),
its OpenID key endpoint a local listener switched between blackholed, slow and serving
(tests/reliability/outsiders.py), and prints one table: per attack, its status and time, and the
/healthz p95 measured while it runs, next to /healthz idle in the same run; then the key-outage
answers (503 time, fetches made), RSS across 1,000 hostile requests and the time to stop.

    .venv/bin/python benchmarks/bench_outsiders.py
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.bot.support import Stub, teams_message  # noqa: E402
from tests.reliability.outsiders import (  # noqa: E402
    KeyEndpoint,
    attacks,
    healthz_latency,
    p50,
    p95,
    rss_kb,
    send,
    under_attack,
)
from tests.reliability.servers import PmarkServe  # noqa: E402


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


async def _message(
    http: aiohttp.ClientSession, base: str, stub: Stub, token: str
) -> tuple[int, float]:
    conversation = f"19:{uuid.uuid4().hex}@thread.tacv2"
    activity = teams_message(
        stub.base + "/", "2공장 펌프 누유", conversation=conversation, chain=None
    )
    body = json.dumps(activity).encode()
    started = time.perf_counter()
    async with http.post(
        base + "/api/messages",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token},
        timeout=aiohttp.ClientTimeout(total=60),
    ) as resp:
        await resp.read()
        return resp.status, time.perf_counter() - started


async def main() -> int:
    stub = Stub()
    await stub.start()
    keys = KeyEndpoint(stub, mode="blackhole")
    await keys.start()
    root = Path(tempfile.mkdtemp(prefix="pmark-outsiders-"))
    serve = PmarkServe(
        root / "data", stub, extra={"PMARK_BOTFRAMEWORK_OPENID_METADATA_URL": keys.url}
    )
    await serve.start(ready_path="/healthz")
    assert serve.proc is not None
    try:
        async with aiohttp.ClientSession() as http:
            idle = await healthz_latency(http, serve.base, count=50)
            print(f"/healthz idle: p50 {_ms(p50(idle))} ms, p95 {_ms(p95(idle))} ms (baseline)")
            print(f"{'attack':<36}{'status':>7}{'ms':>9}{'healthz p95 ms':>16}{'x idle':>8}")
            for attack in attacks(stub, stub.base + "/"):
                busy, (status, seconds) = await under_attack(
                    http,
                    serve.base,
                    lambda a=attack: send(http, serve.base, a, timeout=60),  # type: ignore[misc]
                )
                print(
                    f"{attack.name:<36}{status:>7}{_ms(seconds):>9}{_ms(p95(busy)):>16}"
                    f"{p95(busy) / p95(idle):>8.1f}"
                )

            await keys.forgotten()
            before = keys.connections["blackhole"]
            token = stub.channel_token(stub.base + "/")
            results = await asyncio.gather(
                *(_message(http, serve.base, stub, token) for _ in range(50))
            )
            statuses = sorted({s for s, _ in results})
            worst = max(t for _, t in results)
            fetches = keys.connections["blackhole"] - before
            print(
                f"key endpoint blackholed, 50 valid tokens: statuses {statuses}, "
                f"slowest {_ms(worst)} ms, key fetches {fetches}"
            )
            await keys.forgotten()
            keys.mode = "slow"
            before = keys.connections["slow"]
            results = await asyncio.gather(
                *(_message(http, serve.base, stub, token) for _ in range(20))
            )
            print(
                f"key endpoint slow, 20 valid tokens: statuses {sorted({s for s, _ in results})}, "
                f"slowest {_ms(max(t for _, t in results))} ms, "
                f"key fetches {keys.connections['slow'] - before}"
            )

            table = [a for a in attacks(stub, stub.base + "/") if len(a.body) < 200_000]
            for i in range(200):
                await send(http, serve.base, table[i % len(table)])
            rss_before = rss_kb(serve.proc.pid)
            started = time.perf_counter()
            for i in range(1000):
                await send(http, serve.base, table[i % len(table)])
            spent = time.perf_counter() - started
            rss_after = rss_kb(serve.proc.pid)
            print(
                f"1,000 hostile requests: {spent:.1f} s, RSS {rss_before / 1024:.0f} -> "
                f"{rss_after / 1024:.0f} MB ({(rss_after - rss_before) / 1024:+.1f} MB)"
            )

            keys.mode = "blackhole"
            hanging = [
                asyncio.ensure_future(_message(http, serve.base, stub, token)) for _ in range(20)
            ]
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            serve.proc.send_signal(signal.SIGTERM)
            await serve.proc.wait()
            print(f"stop with 20 requests in flight: {time.perf_counter() - started:.2f} s")
            await asyncio.gather(*hanging, return_exceptions=True)
    finally:
        await serve.stop()
        await keys.stop()
        await stub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
