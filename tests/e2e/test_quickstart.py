"""A new user follows the README: `scripts/quickstart.sh`, open the playground it prints, chat.

The script runs as written (its venv step, the demo load, the playground install and start);
only the ports and the data dir are moved out of the way of a developer's own quick start.
Nothing here depends on what the demo catalog contains: any card from PMark will do.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.client import Playground, start_browser
from tests.e2e.conftest import SHOTS, _free_port, _get, _unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
STARTUP_S = 600.0
DRAFT_OR_CASES = r"Draft notification|Similar past cases|접수 초안|과거 유사 사례"


def test_quickstart_serves_pmark_and_a_playground_to_chat_in(
    playground_bin: str, tmp_path: Path
) -> None:
    if not (REPO / ".venv" / "bin" / "python").exists():
        _unavailable("no .venv in the repo (scripts/setup_venv.sh)")
    port, ui_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env.update(
        PMARK_DATA_DIR=str(tmp_path / "data"),
        PMARK_PORT=str(port),
        PMARK_PLAYGROUND_PORT=str(ui_port),
        PMARK_EVAL_SCHEDULE_ENABLED="false",
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    log = SHOTS / "quickstart.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(REPO / "scripts" / "quickstart.sh")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_S
        while _get(f"http://127.0.0.1:{port}/readyz") != 200:
            assert proc.poll() is None, f"quickstart.sh exited ({proc.returncode}); see {log}"
            assert time.monotonic() < deadline, f"PMark not ready in {STARTUP_S:.0f} s; see {log}"
            time.sleep(1)
        ui = f"http://127.0.0.1:{ui_port}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            home = resp.read().decode()
        assert f'href="{ui}"' in home and "<td>ready</td>" in home
        while _get(ui + "/") != 200:
            assert time.monotonic() < deadline, f"no playground on {ui}; see {log}"
            time.sleep(1)
        printed = log.read_text(errors="replace")
        assert f"open {ui}" in printed, printed
        driver = start_browser(tmp_path / "chromium")
        try:
            teams = Playground(driver, ui + "/", SHOTS)
            teams.open("Personal Chat")
            card = teams.ask("pump leaking, plant 1, urgent")
            teams.shot("quickstart-first-chat")
        finally:
            driver.quit()
        assert card.card and re.search(
            r"Draft notification|Similar past cases|접수 초안|과거 유사 사례", card.text
        )
    finally:
        # The script, PMark and the playground it started (one process group): a server whose
        # graceful stop hangs must not outlive the test.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(5)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)
