"""Subprocess output reaches the session's log dir while the test still reads its pipes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import suite_logs
from tests.suite_logs import OWNER_ENV, SUBPROCESS_DIR, session_log_dir

SCRIPT = "import sys; print('out-' + sys.argv[1]); print('err-' + sys.argv[1], file=sys.stderr)"


def _logged(marker: str) -> str:
    folder = session_log_dir()
    if folder is None:
        pytest.skip("the suite log plugin is not active")
    texts = [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted((folder / SUBPROCESS_DIR).glob("*.log"))
    ]
    return "\n".join(t for t in texts if marker in t)


@pytest.mark.parametrize("mode", ["pipe", "devnull", "merged"])
def test_subprocess_output_is_relayed_and_logged(mode: str, tmp_path: Path) -> None:
    marker = f"{mode}-{tmp_path.name}"
    if mode == "pipe":
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, marker], capture_output=True, text=True, timeout=60
        )
        assert proc.stdout == f"out-{marker}\n" and proc.stderr == f"err-{marker}\n"
    elif mode == "devnull":
        subprocess.run(
            [sys.executable, "-c", SCRIPT, marker],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=True,
        )
    else:
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, marker],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        assert sorted(proc.stdout.splitlines()) == [f"err-{marker}", f"out-{marker}"]
    for _ in range(100):  # the relay thread writes right after the child's last write
        logged = _logged(marker)
        if f"out-{marker}" in logged and f"err-{marker}" in logged:
            break
        time.sleep(0.05)
    assert f"out-{marker}" in logged and f"err-{marker}" in logged
    test = "tests/reliability/test_suite_logs.py::test_subprocess_output_is_relayed_and_logged"
    assert f"# pytest: {test}[{mode}]" in logged


async def test_asyncio_subprocess_streams_still_work(tmp_path: Path) -> None:
    marker = f"async-{tmp_path.name}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        marker,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert (out, err, proc.returncode) == (
        f"out-{marker}\n".encode(),
        f"err-{marker}\n".encode(),
        0,
    )
    assert f"out-{marker}" in _logged(marker)


def test_a_nested_pytest_keeps_the_running_sessions_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pytest started by a test (a guide's command) logs into nested/, leaving suite.log."""
    (tmp_path / "suite.log").write_text("the running session's records\n")
    monkeypatch.setenv("PMARK_TEST_LOG_DIR", str(tmp_path))
    monkeypatch.setenv(OWNER_ENV, str(os.getpid() + 1))  # another process owns the dir
    folder = suite_logs._choose_dir()
    assert folder.parent == tmp_path / "nested"
    assert (tmp_path / "suite.log").read_text() == "the running session's records\n"
    monkeypatch.setenv(OWNER_ENV, str(os.getpid()))  # this process does: it starts afresh
    assert suite_logs._choose_dir() == tmp_path
    assert not (tmp_path / "suite.log").exists()
