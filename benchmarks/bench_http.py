"""HTTP benchmark: N concurrent Teams conversations x M turns against `pmark serve` on loopback.

Starts `pmark serve --workers N` for each N of `--workers` (default 1 then 2; several need
PMARK_POSTGRES_URL; PMARK_DATABASE_URL puts the application database on a server too), in
emulator mode with no LLM, and a local Bot Connector that receives the answers. Every turn waits
for its own answer; every answer with recommendations gets a thumb clicked twice. Prints one row
per N: throughput, p50/p95/p99 of the answer, the HTTP acknowledgement, and the floor (GET
/healthz at the same concurrency, same run); and checks that no reply was lost, duplicated or
crossed into another conversation and that every thumb is stored exactly once.

    .venv/bin/python benchmarks/bench_http.py                 # 200 x 20, 1 and 2 workers
    .venv/bin/python benchmarks/bench_http.py --quick         # 20 x 5
    .venv/bin/python benchmarks/bench_http.py --workers 1     # one configuration
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
PMARK = Path(sys.executable).parent / "pmark"
TEXTS = (
    "2공장 냉각수 펌프 누유, 긴급",
    "펌프 진동",
    "1공장 보통",
    "compressor overheating plant 1 high",
    "3공장 모터 과열 즉시 점검",
)


@dataclass
class Connector:
    """A Bot Connector that hands each answer to the turn waiting for it."""

    pending: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    updates: int = 0
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    base: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if request.method == "PUT":  # a superseded card closed in place: not an answer
            self.updates += 1
        elif body.get("type") == "message":
            key = (body["conversation"]["id"], body.get("replyToId") or "")
            future = self.pending.pop(key, None)
            if future is None or future.done():
                self.unexpected.append(body)
            else:
                future.set_result(body)
        return web.json_response({"id": f"m{next(self.ids)}"})

    async def start(self) -> web.AppRunner:
        app = web.Application(client_max_size=10_000_000)
        app.router.add_route("*", "/v3/conversations/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        return runner


@dataclass
class Results:
    ack: list[float] = field(default_factory=list)
    answer: list[float] = field(default_factory=list)
    lost: int = 0
    crossed: int = 0
    errors: int = 0
    thumbs: set[tuple[str, str, str]] = field(default_factory=set)
    kinds: dict[str, int] = field(default_factory=dict)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def activity(service_url: str, conv: str, user: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": uuid.uuid4().hex,
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": f"29:{user}", "aadObjectId": user},
        "conversation": {"id": conv},
        "recipient": {"id": "28:pmark", "name": "PMark"},
        "text": text,
    }


def first_vote(card: dict[str, Any]) -> dict[str, Any] | None:
    stack: list[Any] = [card]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute" and node.get("verb") == "pmark.vote":
                return dict(node["data"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return None


async def conversation(
    http: aiohttp.ClientSession,
    base: str,
    connector: Connector,
    name: str,
    index: int,
    turns: int,
    results: Results,
    timeout: float,
) -> None:
    conv = f"19:bench-{name}@thread.tacv2"
    user = f"bench-user-{name}"
    for turn in range(turns):
        text = TEXTS[(index + turn) % len(TEXTS)]
        act = activity(connector.base, conv, user, text)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        connector.pending[(conv, act["id"])] = future
        started = time.perf_counter()
        async with http.post(f"{base}/api/messages", json=act) as resp:
            await resp.read()
            if resp.status != 200:
                results.errors += 1
                connector.pending.pop((conv, act["id"]), None)
                continue
        results.ack.append(time.perf_counter() - started)
        try:
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            results.lost += 1
            connector.pending.pop((conv, act["id"]), None)
            continue
        results.answer.append(time.perf_counter() - started)
        if reply["conversation"]["id"] != conv or reply.get("replyToId") != act["id"]:
            results.crossed += 1
        card = (reply.get("attachments") or [{}])[0].get("content") or {}
        vote = first_vote(card)
        kind = "answer" if vote else "other"
        results.kinds[kind] = results.kinds.get(kind, 0) + 1
        if vote:
            invoke = {
                "type": "invoke",
                "name": "adaptiveCard/action",
                "id": uuid.uuid4().hex,
                "serviceUrl": connector.base,
                "channelId": "msteams",
                "from": {"id": f"29:{user}", "aadObjectId": user},
                "conversation": {"id": conv},
                "recipient": {"id": "28:pmark"},
                "value": {"action": {"type": "Action.Execute", "verb": "pmark.vote", "data": vote}},
            }
            for _ in range(2):  # a double click must store one row
                async with http.post(f"{base}/api/messages", json=invoke) as resp:
                    await resp.read()
                    if resp.status != 200:
                        results.errors += 1
            results.thumbs.add((vote["answer_id"], vote["itemno"], user))


async def baseline(http: aiohttp.ClientSession, base: str, clients: int, each: int) -> list[float]:
    latencies: list[float] = []

    async def client() -> None:
        for _ in range(each):
            started = time.perf_counter()
            async with http.get(f"{base}/healthz") as resp:
                await resp.read()
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def prepare_data(data_dir: Path, env: dict[str, str], history: int = 0) -> None:
    if env.get("PMARK_DATABASE_URL") is None and not (data_dir / "pmark.db").exists():
        count = 0
    else:
        count = repository_count(env, "notification_count")
    if count:
        return
    print(f"loading the demo catalog and history into {data_dir} …", flush=True)
    subprocess.run([str(PMARK), "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    if history:
        add_history(env, history)


def repository_count(env: dict[str, str], method: str, strict: bool = False) -> int:
    """A count the application database's Repository gives (`notification_count`,
    `feedback_count`), read in a child process with the server's settings; 0 when it cannot
    tell, unless `strict`."""
    code = (
        "from adapters.settings import Settings; from adapters.sql.repository import Repository;"
        f"s=Settings(); print(Repository.from_url(s.sqlalchemy_url()).{method}())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        check=strict,
        capture_output=True,
        text=True,
        cwd=str(REPO),
    )
    return int(out.stdout.split()[-1]) if out.returncode == 0 and out.stdout.split() else 0


def add_history(env: dict[str, str], n: int) -> None:
    """n more notifications (bench_turn's synthetic ones), stored and indexed, and the ANN
    graph built, before the server starts: memory per worker at a plant's full history."""
    print(f"adding {n} synthetic notifications (bench_turn's) …", flush=True)
    code = (
        "import sys, time; sys.path.insert(0, 'benchmarks');"
        "from bench_turn import synthetic_history; from adapters.settings import Settings;"
        "from agent.context import PMark; ctx = PMark(Settings()); t = time.perf_counter();"
        f"synthetic_history(ctx, {n}); ctx.index.refresh(); ctx.index.wait_for_ann(900);"
        "print(f'stored, indexed and ANN graph built in {time.perf_counter() - t:.0f} s')"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=str(REPO))


@dataclass
class Run:
    """One serving configuration's figures."""

    workers: int
    results: Results
    elapsed: float
    floor: list[float]
    unexpected: int
    rows: int
    closed: int  # superseded cards closed in place (PUT)
    server_cpu: float = 0.0  # CPU seconds of every serving process during the load
    client_cpu: float = 0.0  # CPU seconds of this client during the load
    rss_mb: float = 0.0  # the largest serving process's resident memory at the end
    # Its proportional share: pages shared with the other workers (the index's mapped files,
    # the libraries) counted once across them, so N workers' PSS add up to what they hold.
    pss_mb: float = 0.0
    # Every core's busy seconds during the load: with server and client taken out, what is left
    # is mostly PostgreSQL's backends, which share the same cores and budget.
    machine_cpu: float = 0.0
    ready_s: float = 0.0  # from starting `pmark serve` to every worker answering /healthz

    @property
    def ok(self) -> bool:
        r = self.results
        return (
            r.lost == 0
            and r.crossed == 0
            and self.unexpected == 0
            and r.errors == 0
            and self.rows == len(r.thumbs)
        )


async def wait_all_workers(http: aiohttp.ClientSession, base: str, workers: int) -> bool:
    """Until every worker answers /healthz (each connection lands on one of them)."""
    deadline = time.monotonic() + 300
    seen: set[int] = set()
    while time.monotonic() < deadline:
        try:
            async with http.get(f"{base}/healthz", headers={"Connection": "close"}) as resp:
                if resp.status == 200:
                    seen.add(int((await resp.json()).get("worker", 0)))
        except aiohttp.ClientError:
            pass
        if len(seen) >= workers:
            return True
        await asyncio.sleep(0.1)
    return False


async def serve_and_load(
    args: argparse.Namespace, env: dict[str, str], data_dir: Path, workers: int
) -> Run | None:
    rows_before = repository_count(env, "feedback_count", strict=True)
    connector = Connector()
    stub = await connector.start()
    port = args.port or free_port()
    env = {**env, "PMARK_PORT": str(port)}
    log = open(data_dir / f"serve-{workers}.log", "w")  # noqa: SIM115
    launched = time.perf_counter()
    proc = subprocess.Popen(
        [str(PMARK), "serve", "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=log,
        cwd=str(REPO),
    )
    base = f"http://127.0.0.1:{port}"
    results = Results()
    tag = uuid.uuid4().hex[:6]  # a run's conversations are its own, not the last run's
    try:
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as http:
            if not await wait_all_workers(http, base, workers):
                print("pmark serve did not start; see", data_dir / f"serve-{workers}.log")
                return None
            ready = time.perf_counter() - launched
            await baseline(http, base, 10, 20)  # warm-up
            floor = await baseline(http, base, args.conversations, args.turns)
            processes = serving(proc.pid)
            server_before, client_before = cpu_seconds(processes), time.process_time()
            machine_before = busy_seconds()
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    conversation(
                        http, base, connector, f"{tag}-{i}", i, args.turns, results, args.timeout
                    )
                    for i in range(args.conversations)
                )
            )
            elapsed = time.perf_counter() - started
            server_cpu = cpu_seconds(processes) - server_before
            client_cpu = time.process_time() - client_before
            machine_cpu = busy_seconds() - machine_before
            rss, pss = largest_memory(processes)
            await asyncio.sleep(0.5)
            if args.metrics:  # the server's own view of the load (turn and node histograms)
                async with http.get(f"{base}/metrics") as resp:
                    Path(f"{args.metrics}.{workers}").write_bytes(await resp.read())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        await stub.cleanup()
    rows = repository_count(env, "feedback_count", strict=True) - rows_before
    return Run(
        workers,
        results,
        elapsed,
        floor,
        len(connector.unexpected),
        rows,
        connector.updates,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        rss_mb=rss / 2**20,
        pss_mb=pss / 2**20,
        machine_cpu=machine_cpu,
        ready_s=ready,
    )


def largest_memory(processes: list[psutil.Process]) -> tuple[int, int]:
    """The largest RSS among the serving processes, and that process's PSS (0 if unreadable)."""
    live = [p for p in processes if p.is_running()]
    if not live:
        return 0, 0
    big = max(live, key=lambda p: p.memory_info().rss)
    try:
        full = big.memory_full_info()
    except (psutil.Error, OSError):
        return big.memory_info().rss, 0
    return full.rss, getattr(full, "pss", 0)


def serving(pid: int) -> list[psutil.Process]:
    """The server process and its workers."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all cores, all processes)."""
    times = psutil.cpu_times()
    # guest time is already inside user on Linux; steal belongs to other tenants.
    parts = ("user", "nice", "system", "irq", "softirq")
    return sum(getattr(times, part, 0.0) for part in parts)


def ms(values: list[float], q: float) -> str:
    return f"{pct(values, q) * 1000:.0f}"


def report(args: argparse.Namespace, env: dict[str, str], runs: list[Run]) -> None:
    backend = "PostgreSQL" if "PMARK_POSTGRES_URL" in env else "SQLite"
    app_db = "PostgreSQL" if "PMARK_DATABASE_URL" in env else "SQLite"
    notifications = repository_count(env, "notification_count")
    print(
        f"\n{args.conversations} conversations x {args.turns} turns, checkpoints on {backend}, "
        f"application database on {app_db}, {notifications:,} notifications, no LLM, "
        "client on the same machine"
    )
    print(
        "| workers | ready s | turns/s | answer p50 / p95 / p99 ms | HTTP ack p50 / p95 ms "
        "| floor: /healthz p50 / p95 ms | server / client / rest CPU ms per turn | RSS / PSS MB "
        "| lost | crossed | duplicates | errors | thumbs (stored) | cards closed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        r = run.results
        turns = len(r.answer)
        rest = max(0.0, run.machine_cpu - run.server_cpu - run.client_cpu)
        print(
            f"| {run.workers} | {run.ready_s:.0f} | {turns / run.elapsed:.1f} "
            f"| {ms(r.answer, 0.5)} / {ms(r.answer, 0.95)} / {ms(r.answer, 0.99)} "
            f"| {ms(r.ack, 0.5)} / {ms(r.ack, 0.95)} "
            f"| {ms(run.floor, 0.5)} / {ms(run.floor, 0.95)} "
            f"| {1000 * run.server_cpu / max(1, turns):.1f} / "
            f"{1000 * run.client_cpu / max(1, turns):.1f} / "
            f"{1000 * rest / max(1, turns):.1f} | {run.rss_mb:.0f} / {run.pss_mb:.0f} "
            f"| {r.lost} | {r.crossed} | {run.unexpected} | {r.errors} "
            f"| {len(r.thumbs)} ({run.rows}) | {run.closed} |"
        )
    if len(runs) > 1 and runs[0].elapsed and runs[-1].elapsed:
        first = len(runs[0].results.answer) / runs[0].elapsed
        last = len(runs[-1].results.answer) / runs[-1].elapsed
        print(f"\n{runs[-1].workers} workers vs {runs[0].workers}: x{last / first:.2f} turns/s")


async def main(args: argparse.Namespace) -> int:
    data_dir = (
        Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="pmark-bench-"))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env.update(
        {
            "PMARK_DATA_DIR": str(data_dir),
            "PMARK_HOST": "127.0.0.1",
            "PMARK_RATE_LIMIT_PER_MINUTE": "0",
            "PMARK_LOG_LEVEL": "WARNING",
            "PMARK_EVAL_SCHEDULE_ENABLED": "false",
        }
    )
    for name in ("PMARK_POSTGRES_URL", "PMARK_DATABASE_URL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    for setting in args.set:  # e.g. --set PMARK_EVENT_LOOP=asyncio, to compare one setting
        name, _, value = setting.partition("=")
        env[name] = value
    prepare_data(data_dir, env, args.history)
    counts = [int(w) for w in args.workers.split(",")]
    if max(counts) > 1 and "PMARK_POSTGRES_URL" not in env:
        print("several workers need PMARK_POSTGRES_URL (PostgreSQL checkpoints)")
        return 2
    runs: list[Run] = []
    for workers in counts:
        run = await serve_and_load(args, env, data_dir, workers)
        if run is None:
            return 2
        runs.append(run)
    report(args, env, runs)
    ok = all(run.ok for run in runs)
    print("OK" if ok else "FAILED")
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", "-n", type=int, default=200)
    parser.add_argument("--turns", "-m", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="20 conversations x 5 turns")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait per answer")
    parser.add_argument("--data-dir", help="reuse a data dir (demo data is loaded when empty)")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="a fresh data dir also gets N synthetic notifications (e.g. 100000: RSS at 100k)",
    )
    parser.add_argument(
        "--metrics", help="save /metrics at the end of each run to METRICS.<workers>"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="PMARK_X=VALUE", help="a server setting"
    )
    parser.add_argument(
        "--workers", default="1,2", help="worker counts to run one after the other (e.g. 1,2)"
    )
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.turns = 20, 5
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
