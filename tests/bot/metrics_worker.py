"""A stand-in for one `pmark serve` worker in multiprocess metrics mode (test_metrics_mp.py).

Run as a fresh process with PROMETHEUS_MULTIPROC_DIR set: imports the project's metric modules,
records the values given as JSON in argv[1], prints its pid and exits.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    from prometheus_client import values

    from agent.metrics import NODE_BASELINE, TURN_SECONDS, TURNS
    from agent.outage import DB_DOWN
    from bot import middleware  # noqa: F401 - its metrics are created in this worker too
    from bot.looplag import LOOP_LAG_MAX
    from bot.spool import SPOOLED

    # Multiprocess mode is chosen when prometheus_client is imported: it must be file-backed.
    if not getattr(values.ValueClass, "_multiprocess", False):
        raise SystemExit("prometheus_client is not in multiprocess mode")
    TURNS.labels(spec["kind"]).inc(spec["turns"])
    TURN_SECONDS.observe(spec["turn_seconds"])
    DB_DOWN.set(spec["down"])
    LOOP_LAG_MAX.set(spec["lag"])
    NODE_BASELINE.labels(spec["kind"]).set(spec["baseline"])
    if "spooled" in spec:
        SPOOLED.set(spec["spooled"])
    print(os.getpid())


if __name__ == "__main__":
    main()
