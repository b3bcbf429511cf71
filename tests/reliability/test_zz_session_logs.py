"""What this session has logged so far holds no secret (named to run late in tests/reliability;
tests/suite_logs.py scans everything again when the session ends and fails the run on a hit)."""

from __future__ import annotations

import logging

import pytest

from tests.reliability.secret_scan import format_finding, known_secrets, scan_files
from tests.suite_logs import SUITE_LOG, session_log_dir, session_log_files


def test_session_logs_hold_no_secret() -> None:
    folder = session_log_dir()
    if folder is None:
        pytest.skip("the suite log plugin is not active (pytest -p no:logging?)")
    # The log file really receives every logger's records, DEBUG included.
    logging.getLogger("pmark.test.suite-logs").debug("suite log probe %s", id(folder))
    files = session_log_files()
    suite_log = folder / SUITE_LOG
    assert suite_log in files
    assert f"suite log probe {id(folder)}" in suite_log.read_text(
        encoding="utf-8", errors="replace"
    )
    findings = scan_files(files, known_secrets())
    assert not findings, "\n".join(format_finding(f) for f in findings[:50])
