"""Killed-dependency benchmark: a PostgreSQL-backed `pmark serve` under a load of concurrent Teams
conversations while its PostgreSQL, Weaviate and LLM servers fail in turn.

Starts private servers (tests/reliability/servers.py: its own PostgreSQL 15 cluster, Weaviate
and llama.cpp server on free loopback ports; the shared ones the test suite uses are never
touched), runs tests/reliability/dependencies.py's scenario and prints its table: faults
survived, turns answered exactly once, first-reply latency in each outage (budget 2 s),
readiness seeing each outage and recovering, thumbs stored exactly once, and what was
acknowledged but is missing after recovery (goal 0). Exit status 0 when every line holds.

    .venv/bin/python benchmarks/bench_dependencies.py                   # 6 conversations
    .venv/bin/python benchmarks/bench_dependencies.py --conversations 3 --keep
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.dependencies import run  # noqa: E402
from tests.reliability.servers import missing_tools  # noqa: E402


async def main(conversations: int, hold: float, llm_timeout: float, keep: bool) -> int:
    missing = missing_tools()
    if missing:
        print("cannot run: missing " + "; ".join(missing))
        return 2
    report = await run(
        conversations,
        hold=hold,
        llm_timeout=llm_timeout,
        keep=keep,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    for line in report.rows():
        print(line)
    return 0 if report.ok() else 1


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=6)
    parser.add_argument("--hold", type=float, default=10.0, help="seconds PostgreSQL stays down")
    parser.add_argument(
        "--llm-timeout", type=float, default=30.0, help="PMARK_LLM_TIMEOUT of the served app"
    )
    parser.add_argument("--keep", action="store_true", help="keep logs and data dirs")
    args = parser.parse_args(argv)
    return asyncio.run(main(args.conversations, args.hold, args.llm_timeout, args.keep))


if __name__ == "__main__":
    sys.exit(cli())
