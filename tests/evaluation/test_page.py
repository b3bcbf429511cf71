"""The /eval page: pure rendering, the admin token, and the charts in a real headless Chromium."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.settings import Settings
from adapters.sql.repository import FeedbackRecord, utcnow
from evaluation.page import (
    PageData,
    eval_routes,
    feedback_by_day,
    line_chart,
    load_page_data,
    render_eval_page,
)
from tests.fake_secrets import ADMIN_TOKEN

REPO = Path(__file__).resolve().parents[2]
TOKEN = ADMIN_TOKEN
EVIL = '<script>alert("x")</script> 펌프 누설'


def _metrics(i: int) -> dict[str, Any]:
    v = 0.5 + 0.1 * i
    return {
        "retrieval": {
            "n": 40,
            "k": 5,
            "precision_at_k": v,
            "recall_at_k": v - 0.2,
            "mrr": v + 0.05,
            "ndcg_at_k": v - 0.05,
            "hit_rate": 0.9,
        },
        "parsing": {
            "n": 50,
            "weighted_accuracy": v + 0.1,
            "field_accuracy": {
                "location": v,
                "equipment": v + 0.1,
                "failure_mode": v - 0.1,
                "priority": 0.8,
            },
            "by_language": {"ko": v + 0.05, "en": v - 0.05, "mixed": v},
        },
        "feedback": {"precision": 0.6 + 0.05 * i, "coverage": 0.2 + 0.1 * i},
        "perf": {"parse": {"p95_ms": 3.0 + i}, "retrieve": {"p95_ms": 40.0 + 5 * i}},
    }


def _details() -> dict[str, Any]:
    return {
        "retrieval": [
            {
                "query": EVIL,
                "relevant": ["N1", "N2"],
                "retrieved": ["N9", "N8"],
                "titles": ["밸브 교체", "pump <seal>"],
                "precision": 0.0,
                "recall": 0.0,
                "rr": 0.0,
                "ndcg": 0.0,
            },
            {
                "query": "compressor vibration",
                "relevant": ["N3"],
                "retrieved": ["N3"],
                "titles": ["compressor"],
                "precision": 0.2,
                "recall": 1.0,
                "rr": 1.0,
                "ndcg": 1.0,
            },
        ]
    }


@pytest.fixture
def ctx(tmp_path: Path) -> Any:
    from agent.context import PMark
    from agent.metrics import NODE_BASELINE, NODE_SECONDS

    pm = PMark(Settings(data_dir=tmp_path / "data", admin_token=TOKEN, _env_file=None))  # type: ignore[call-arg]
    for i in range(4):
        run_id = pm.repo.start_run("0.1.0", {"kind": "full", "k": 5})
        pm.repo.finish_run(run_id, _metrics(i), _details() if i == 3 else {})
    failed = pm.repo.start_run("0.1.0", {"kind": "full"})
    pm.repo.fail_run(failed, "RuntimeError: gold file missing")
    cmp_id = pm.repo.start_run("0.1.0", {"kind": "compare", "a": "hybrid", "b": "bm25"})
    pm.repo.finish_run(
        cmp_id,
        {
            "a": {"name": "hybrid"},
            "b": {"name": "bm25"},
            "difference": {"ndcg_at_k": 0.07},
            "p_value": {"ndcg_at_k": 0.01},
        },
        {},
    )
    for n, vote in enumerate((1, 1, -1)):
        pm.repo.record_feedback(FeedbackRecord("a1", f"N{n}", f"u{n}", "teams", vote, True, "q"))
    for seconds in (0.004, 0.006, 0.02, 0.3):
        NODE_SECONDS.labels("retrieve").observe(seconds)
        NODE_SECONDS.labels("parse").observe(seconds / 10)
    NODE_BASELINE.labels("retrieve").set(0.01)
    return pm


def test_line_chart_draws_one_path_per_series_with_a_point_per_value() -> None:
    svg = line_chart("c", "t", ["a", "b", "c"], {"P": [0.1, 0.5, None], "Q": [0.2, 0.3, 0.4]})
    paths = re.findall(
        r'<path class="series" data-series="(\w)" data-points="(\d)" d="([^"]+)"', svg
    )
    assert [(s, n) for s, n, _ in paths] == [("P", "2"), ("Q", "3")]
    assert paths[1][2].count("L") == 2 and svg.count('class="point"') == 5


def test_render_escapes_text_and_shows_every_section(ctx: Any) -> None:
    html = render_eval_page(load_page_data(ctx))
    assert "<script>" not in html and "&lt;script&gt;" in html
    for chart in ("chart-retrieval", "chart-parsing-fields", "chart-parsing-languages"):
        assert f'id="{chart}"' in html
    assert 'id="chart-feedback"' in html and 'id="chart-node-latency"' in html
    assert "gold file missing" in html and "hybrid vs bm25" in html
    assert 'data-points="4"' in html
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing external


def test_empty_page_says_how_to_start() -> None:
    html = render_eval_page(PageData(runs=[]))
    assert "pmark eval run" in html and "<svg" not in html


def test_feedback_by_day_counts_the_last_days() -> None:
    now = utcnow()
    rows = [
        {"created_at": now, "vote": 1},
        {"created_at": now, "vote": -1},
        {"created_at": now - timedelta(days=40), "vote": 1},
    ]
    days = feedback_by_day(rows, now)
    assert len(days) == 30 and days[-1][1:] == (1, 1) and sum(d[1] for d in days) == 1


@pytest.fixture
async def client(ctx: Any) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    app.add_routes(eval_routes(ctx))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def test_eval_needs_the_admin_token(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/eval")).status == 401
    assert (await client.get("/eval", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await client.get("/eval?token=wrong")).status == 401
    ok = await client.get("/eval", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status == 200 and "default-src 'none'" in ok.headers["Content-Security-Policy"]
    assert 'id="chart-retrieval"' in await ok.text()
    assert (await client.get(f"/eval?token={TOKEN}")).status == 200


async def test_no_token_configured_means_no_access(tmp_path: Path) -> None:
    from agent.context import PMark

    pm = PMark(Settings(data_dir=tmp_path / "d", _env_file=None))  # type: ignore[call-arg]
    app = web.Application()
    app.add_routes(eval_routes(pm))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        assert (await c.get("/eval?token=")).status == 401


def _browser(url: str, screenshot: Path, tmp: Path) -> dict[str, Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp}",
        "--window-size=1100,3400",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url.split("?")[0])
        denied = driver.find_element("tag name", "body").text
        driver.get(url)
        charts = driver.execute_script(
            """
            return [...document.querySelectorAll('svg.chart')].map(svg => {
              const box = svg.getBoundingClientRect();
              return {id: svg.id, width: box.width, height: box.height,
                paths: [...svg.querySelectorAll('path.series')].map(p => ({
                  points: Number(p.dataset.points), length: p.getTotalLength(),
                  w: p.getBBox().width, h: p.getBBox().height})),
                bars: [...svg.querySelectorAll('rect.bar')].map(r => r.getBBox().width)};
            });
            """
        )
        title = driver.title
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
    return {"denied": denied, "charts": charts, "title": title}


@pytest.mark.skipif(
    not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
    reason="chromium/chromedriver not installed (apt-get install chromium chromium-driver)",
)
async def test_charts_render_in_headless_chromium(ctx: Any, tmp_path: Path) -> None:
    pytest.importorskip("selenium")
    app = web.Application()
    app.add_routes(eval_routes(ctx))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    shot = REPO / "test-artifacts" / "eval-page.png"
    try:
        seen = await asyncio.to_thread(
            _browser, f"http://127.0.0.1:{port}/eval?token={TOKEN}", shot, tmp_path / "chrome"
        )
    finally:
        await runner.cleanup()
        shutil.rmtree(tmp_path / "chrome", ignore_errors=True)
    assert "401" in seen["denied"]
    assert seen["title"] == "PMark evaluation"
    charts = {c["id"]: c for c in seen["charts"]}
    for chart in (
        "chart-retrieval",
        "chart-parsing-fields",
        "chart-parsing-languages",
        "chart-feedback",
        "chart-eval-latency",
    ):
        assert charts[chart]["width"] > 0 and charts[chart]["height"] > 0, chart
        assert charts[chart]["paths"], chart
        for path in charts[chart]["paths"]:
            assert path["points"] >= 1 and path["w"] > 0, (chart, path)
    assert len(charts["chart-retrieval"]["paths"]) == 4
    assert all(p["points"] == 4 and p["length"] > 0 for p in charts["chart-retrieval"]["paths"])
    assert charts["chart-node-latency"]["bars"] and min(charts["chart-node-latency"]["bars"]) > 0
    assert shot.stat().st_size > 10_000
