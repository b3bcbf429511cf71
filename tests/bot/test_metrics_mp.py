"""/metrics of `pmark serve --workers N`: the workers' metric files merged into one answer.

Real worker processes (tests/bot/metrics_worker.py) record metrics into a shared
PROMETHEUS_MULTIPROC_DIR; this process, whose own prometheus_client was imported without the
variable, must report their sums and maxima and nothing of its own registry.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY, Gauge
from prometheus_client.parser import text_string_to_metric_families

from agent.metrics import TURNS
from bot.health import add_routes
from bot.metrics_mp import ENV, metrics_body, worker_exited

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("metrics_worker.py")
KIND = "mp-test"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def run_worker(metrics_dir: Path, **spec: Any) -> int:
    """One worker process that records `spec` and exits; its pid."""
    env = dict(os.environ)
    env[ENV] = str(metrics_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    spec = {"kind": KIND, "turn_seconds": 0.05, **spec}
    done = subprocess.run(
        [sys.executable, str(WORKER), json.dumps(spec)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def parse(body: bytes) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples, name: str) -> list[frozenset[tuple[str, str]]]:
    return [labels for n, labels in samples if n == name]


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    path = tmp_path / "metrics"
    path.mkdir()
    return path


def test_workers_are_summed_and_live_gauges_drop_exited_workers(
    metrics_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Worker a thinks the database is down and had a long loop stall; b is fine. b runs after
    # a, so b's spool count is the most recently published one.
    a = run_worker(
        metrics_dir, turns=2, down=1, lag=0.5, baseline=0.25, spooled=5, turn_seconds=0.02
    )
    b = run_worker(metrics_dir, turns=5, down=0, lag=0.125, baseline=0.375, spooled=2)
    assert a != b
    # This process's own (in-memory) registry must not leak into the workers' answer.
    TURNS.labels(KIND).inc(100)
    monkeypatch.setenv(ENV, str(metrics_dir))

    merged = parse(metrics_body())

    assert value(merged, "pmark_turns_total", kind=KIND) == 7
    assert value(merged, "pmark_turn_duration_seconds_count") == 2
    assert value(merged, "pmark_turn_duration_seconds_bucket", le="0.025") == 1
    assert value(merged, "pmark_turn_duration_seconds_bucket", le="0.05") == 2
    # Down in any worker is down; the worst loop and the slowest baseline; one series each.
    assert value(merged, "pmark_database_down") == 1
    assert value(merged, "pmark_event_loop_lag_max_seconds") == 0.5
    assert value(merged, "pmark_node_baseline_seconds", node=KIND) == 0.375
    # The spool file is shared: the latest count, not 5 + 2.
    assert value(merged, "pmark_spooled_items") == 2
    for gauge in (
        "pmark_database_down",
        "pmark_event_loop_lag_max_seconds",
        "pmark_node_baseline_seconds",
        "pmark_spooled_items",
    ):
        assert len(names(merged, gauge)) == 1, gauge
    assert value(merged, "python_info", **_python_info_labels(merged)) == 1
    assert not names(merged, "process_resident_memory_bytes")

    worker_exited(a)
    after = parse(metrics_body())

    # a's gauges are gone; its counts stay, so rates over a restart do not drop.
    assert value(after, "pmark_database_down") == 0
    assert value(after, "pmark_event_loop_lag_max_seconds") == 0.125
    assert value(after, "pmark_node_baseline_seconds", node=KIND) == 0.375
    assert value(after, "pmark_turns_total", kind=KIND) == 7
    assert value(after, "pmark_turn_duration_seconds_count") == 2

    worker_exited(b)
    assert value(parse(metrics_body()), "pmark_turns_total", kind=KIND) == 7
    assert not names(parse(metrics_body()), "pmark_database_down")


def _python_info_labels(samples: Samples) -> dict[str, str]:
    (labels,) = names(samples, "python_info")
    return dict(labels)


def test_worker_exited_with_an_explicit_directory(
    metrics_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    a = run_worker(metrics_dir, turns=1, down=1, lag=0.25, baseline=0.5)
    run_worker(metrics_dir, turns=1, down=0, lag=0.0, baseline=0.5)
    monkeypatch.delenv(ENV, raising=False)
    with caplog.at_level(logging.WARNING, logger="bot.metrics_mp"):
        worker_exited(a)  # nowhere to look: a warning, no error
    assert "not set" in caplog.text
    worker_exited(a, metrics_dir)
    monkeypatch.setenv(ENV, str(metrics_dir))
    merged = parse(metrics_body())
    assert value(merged, "pmark_database_down") == 0
    assert value(merged, "pmark_event_loop_lag_max_seconds") == 0.0
    assert value(merged, "pmark_turns_total", kind=KIND) == 2


def test_single_process_reports_the_default_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    before = value(parse(metrics_body()), "pmark_turns_total", kind="mp-single") or 0.0
    TURNS.labels("mp-single").inc(3)
    samples = parse(metrics_body())
    assert value(samples, "pmark_turns_total", kind="mp-single") == before + 3
    assert names(samples, "pmark_database_down") == [frozenset()]


async def test_metrics_endpoint_serves_the_workers_sum(
    metrics_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_worker(metrics_dir, turns=4, down=0, lag=0.0, baseline=0.5)
    run_worker(metrics_dir, turns=6, down=0, lag=0.0, baseline=0.5)
    monkeypatch.setenv(ENV, str(metrics_dir))
    app = web.Application()
    add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        samples = parse(await resp.read())
    assert value(samples, "pmark_turns_total", kind=KIND) == 10


METRIC_PACKAGES = ("agent", "bot", "adapters", "evaluation")


def _modules_defining_gauges() -> list[str]:
    found = []
    for package in METRIC_PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts or "Gauge(" not in path.read_text("utf-8"):
                continue
            found.append(".".join(path.relative_to(REPO).with_suffix("").parts))
    return found


def test_every_gauge_says_how_workers_combine() -> None:
    modules = _modules_defining_gauges()
    assert {"agent.metrics", "agent.outage", "bot.looplag", "bot.spool"} <= set(modules)
    for module in modules:
        importlib.import_module(module)
    gauges = [
        c
        for c in list(REGISTRY._collector_to_names)  # no public listing of collectors
        if isinstance(c, Gauge) and c._name.startswith("pmark_")
    ]
    assert len(gauges) >= 4
    for gauge in gauges:
        # 'all' (the default) would export one series per pid, and keep the dead workers'.
        assert gauge._multiprocess_mode.startswith("live"), gauge._name
