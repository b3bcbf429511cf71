"""One `pmark serve`, one Agents Playground and one headless Chromium for the whole session.

The server runs on embedded defaults (SQLite, embedded index, no LLM) in emulator mode (no app
id: the playground sends unauthenticated activities and takes replies on its own connector),
with the test suite's made-up catalog and history (tests/sample_data.py), never the demo data.
The playground is the pinned npm package installed by scripts/install_playground.sh, the same
script scripts/quickstart.sh uses.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.client import CHROMEDRIVER, CHROMIUM, Playground, start_browser

SHOTS = REPO / ".pytest-logs" / "e2e"
STARTUP_S = 240.0

_IMPORT = """
import sys
from pathlib import Path
from agent.context import PMark
from tests.sample_data import write_catalog, write_history
d = Path(sys.argv[1])
ctx = PMark()
ctx.import_catalog(write_catalog(d / "catalog.csv"), replace=True)
report = ctx.import_notifications(write_history(d / "history.csv"), replace=True)
assert not report.errors, report.errors
"""


def _unavailable(message: str) -> None:
    if os.environ.get("PMARK_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except OSError:
        return 0


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if _get(url) == 200:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}); see {log}")
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer {url} within {STARTUP_S:.0f} s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _clean_env() -> dict[str, str]:
    """The environment without any PMARK_* setting (no app id: emulator mode; no servers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@dataclass(frozen=True)
class Served:
    """The running pair: PMark's base URL, its data dir, the playground's URL."""

    base: str
    data_dir: Path
    playground: str

    def db(self) -> sqlite3.Connection:
        """PMark's SQLite database, read-only."""
        return sqlite3.connect(f"file:{self.data_dir / 'pmark.db'}?mode=ro", uri=True)


@pytest.fixture(scope="session")
def playground_bin() -> str:
    """The pinned playground, installed (idempotently) by the repo's script."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        _unavailable(
            "chromium/chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    if not (shutil.which("node") and shutil.which("npm")):
        _unavailable("node/npm not installed (apt-get install nodejs npm)")
    out = subprocess.run(
        [str(REPO / "scripts" / "install_playground.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("export PMARK_PLAYGROUND="))
    return line.split("=", 1)[1]


@pytest.fixture(scope="session")
def served(playground_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`pmark serve` with the sample plant, and the playground pointed at it."""
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    data.mkdir()
    SHOTS.mkdir(parents=True, exist_ok=True)
    env = _clean_env()
    env["PMARK_DATA_DIR"] = str(data)
    subprocess.run(
        [sys.executable, "-c", _IMPORT, str(root)], check=True, env=env, cwd=root, timeout=600
    )
    port, ui_port = _free_port(), _free_port()
    ui = f"http://127.0.0.1:{ui_port}"
    env.update(
        PMARK_HOST="127.0.0.1",
        PMARK_PORT=str(port),
        PMARK_EVAL_SCHEDULE_ENABLED="false",
        PMARK_RATE_LIMIT_PER_MINUTE="1000",
        PMARK_PLAYGROUND_URL=ui,
    )
    serve_log = SHOTS / "pmark-serve.log"
    with serve_log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(f"http://127.0.0.1:{port}/readyz", server, serve_log, "pmark serve")
        pg_env = _clean_env()
        pg_env.update(
            TEAMSAPPTESTER_BROWSER="none",
            M365_AGENTS_PLAYGROUND_CONFIG_PATH=str(REPO / "scripts" / "playground.yml"),
            M365_AGENTS_PLAYGROUND_LOGFILE=str(SHOTS / "playground-devtools.log"),
            NODE_OPTIONS=f"--require {REPO / 'scripts' / 'playground_loopback.cjs'}",
        )
        pg_log = SHOTS / "playground.log"
        with pg_log.open("wb") as out:
            playground = subprocess.Popen(
                [
                    playground_bin,
                    "-e",
                    f"http://127.0.0.1:{port}/api/messages",
                    "-c",
                    "msteams",
                    "-p",
                    str(ui_port),
                    "--service-url",
                    f"{ui}/_connector",
                    "--disable-telemetry",
                ],
                env=pg_env,
                cwd=root,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait(ui + "/", playground, pg_log, "the Agents Playground")
            yield Served(f"http://127.0.0.1:{port}", data, ui)
        finally:
            _stop(playground)
    finally:
        _stop(server)


@pytest.fixture(scope="session")
def browser(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playground]:
    """One headless Chromium for every scenario (each opens the page afresh)."""
    driver = start_browser(tmp_path_factory.mktemp("chromium"))
    try:
        yield Playground(driver, served.playground + "/", SHOTS)
    finally:
        driver.quit()


@pytest.fixture
def teams(browser: Playground, request: pytest.FixtureRequest) -> Iterator[Playground]:
    """The playground for one scenario; a screenshot of the page is saved whatever happens."""
    yield browser
    browser.shot(request.node.name.replace("/", "_"))
