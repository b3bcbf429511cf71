"""The lifecycle from the command line: `pmark chat` /file and the duplicate warning in its JSON,
`pmark notifications list|close`, and the closed notification recommended in the next chat."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from agent.context import PMark
from tests.agent.conftest import env_for
from tests.sample_data import write_catalog, write_history

PMARK = str(Path(sys.executable).with_name("pmark"))
REPORT = "부산공장 압축기 소음 긴급"
FIX = "압축기 흡입 필터 교체 QX-17"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("lifecycle-cli")
    ctx = PMark(Settings(data_dir=data))
    ctx.import_catalog(write_catalog(data / "catalog.csv"))
    ctx.import_notifications(write_history(data / "history.csv"))
    ctx.repo.close()
    return data


def _run(args: list[str], env: dict[str, str], stdin: str = "", ok: int = 0) -> str:
    out = subprocess.run(
        [PMARK, *args], input=stdin, env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == ok, out.stderr[-2000:]
    return out.stdout


def _chat(env: dict[str, str], *lines: str) -> list[dict[str, Any]]:
    thread = f"lc-{uuid.uuid4().hex[:8]}"
    stdout = _run(["chat", "--thread", thread, "--json"], env, "\n".join(lines) + "\n")
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow  # nine `pmark` processes, four of which load the embedder
def test_file_warn_add_list_close_and_recommend(data_dir: Path) -> None:
    env = env_for(data_dir, None)
    draft, filed, again = _chat(env, REPORT, "/file", "접수해 주세요")
    assert draft["kind"] == "answer" and draft["filed"] is None and draft["duplicates"] == []
    number = filed["filed"]
    assert isinstance(number, str) and number.startswith("PM")
    assert again["filed"] == number  # the same draft is filed once

    # Another technician's report of the same problem: warned in the JSON, not filed by /file.
    warned, refused, added = _chat(env, REPORT + " 다시 발생", "file it", "/add")
    assert [d["number"] for d in warned["duplicates"]] == [number]
    assert set(warned["duplicates"][0]) == {"number", "status", "created_at"}
    assert warned["duplicates"][0]["status"] == "open"
    assert refused["filed"] is None and refused["duplicates"][0]["number"] == number
    assert number in added["reply"] and added["filed"] is None

    listed = [
        json.loads(line)
        for line in _run(["notifications", "list", "--status", "open", "--json"], env).splitlines()
    ]
    assert [row["number"] for row in listed] == [number]
    assert set(listed[0]) == {
        "number",
        "status",
        "location",
        "equipment",
        "failure_mode",
        "priority",
        "created_at",
        "source",
    }
    assert listed[0]["source"] == "chat" and listed[0]["equipment"] == "CMP"
    assert listed[0]["location"] == "BUS" and listed[0]["priority"] == "1"

    _run(["notifications", "close", number, "--resolution", FIX], env)
    _run(["notifications", "close", number, "--resolution", "again"], env, ok=1)
    _run(["notifications", "close", "PM000", "--resolution", "x"], env, ok=2)
    closed = _run(["notifications", "list", "--status", "closed", "--json"], env)
    assert any(json.loads(line)["number"] == number for line in closed.splitlines())
    assert _run(["notifications", "list", "--status", "open", "--json"], env).strip() == ""

    # The next similar report: today's fix is recommended, and nothing warns any more.
    [next_report] = _chat(env, "부산공장 압축기 이음 발생 긴급")
    recs = {r["itemno"]: r["resolution"] for r in next_report["recommendations"]}
    assert recs.get(number) == FIX
    assert next_report["duplicates"] == []
