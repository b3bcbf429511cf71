"""The secret scanner finds each of the suite's secrets, and only them, and never prints one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.bot.support import APP_ID, APP_PASSWORD, BOT_TOKEN, SIGNING_SECRET, Stub
from tests.fake_secrets import ADMIN_TOKEN, LLM_API_KEY
from tests.reliability.secret_scan import (
    Finding,
    default_postgres_password,
    known_secrets,
    main,
    scan_files,
)

REPO = Path(__file__).resolve().parents[2]

CLEAN = """\
22:17:13.460 DEBUG asyncio Using selector: EpollSelector
INFO bot.app PMark serving on http://127.0.0.1:3978
WARNING adapters.llm database postgresql://pmark:***@127.0.0.1:5432/pmark_test is down
connecting as role pmark to pmark_test and pmark_checkpoints_test
Slack bot token (xoxb-…) and app password are configured
Authorization: Bearer *** (redacted)
eyJhbGciOiJSUzI1NiJ9 is only a JWT header, not a token
"""


def _scan(tmp_path: Path, text: str) -> list[Finding]:
    log = tmp_path / "some.log"
    log.write_text(text, encoding="utf-8")
    return scan_files([log], known_secrets())


def test_every_suite_secret_is_known_and_distinctive() -> None:
    secrets = known_secrets({"PMARK_TEST_POSTGRES_URL": "postgresql://pmark:pw-Q8z1Lm@h:1/db"})
    values = set(secrets.values())
    for value in (APP_PASSWORD, SIGNING_SECRET, BOT_TOKEN, ADMIN_TOKEN, LLM_API_KEY, "pw-Q8z1Lm"):
        assert value in values
    # The PostgreSQL password of the test cluster differs from the role and database names.
    password = default_postgres_password()
    assert password and password not in {"pmark", "pmark_test", "pmark_checkpoints_test"}
    assert len(password) >= 12
    for value in values:
        assert len(value) >= 6 and value not in CLEAN


def test_clean_text_passes(tmp_path: Path) -> None:
    assert _scan(tmp_path, CLEAN) == []


@pytest.mark.parametrize(
    "secret",
    [APP_PASSWORD, SIGNING_SECRET, BOT_TOKEN, ADMIN_TOKEN, LLM_API_KEY],
    ids=["app-password", "signing-secret", "bot-token", "admin-token", "llm-key"],
)
def test_planted_secret_is_found_with_file_and_line(tmp_path: Path, secret: str) -> None:
    findings = _scan(tmp_path, CLEAN + f"ERROR something failed with {secret!r} inside\n")
    assert [(f.path.name, f.line) for f in findings] == [("some.log", CLEAN.count("\n") + 1)]
    assert secret not in findings[0].masked


def test_postgres_password_from_the_environment_and_percent_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMARK_TEST_CHECKPOINT_URL", "postgresql://pmark:p%40ss-W0rd-x@h:5432/db")
    findings = _scan(tmp_path, "dsn=postgresql://pmark:p%40ss-W0rd-x@h:5432/db\nraw p@ss-W0rd-x\n")
    assert [(f.line, f.kind) for f in findings] == [
        (1, "password in PMARK_TEST_CHECKPOINT_URL"),
        (2, "password in PMARK_TEST_CHECKPOINT_URL"),
    ]


def test_minted_credentials_are_found_by_shape(tmp_path: Path) -> None:
    stub = Stub()
    token = stub.channel_token("https://smba.example/")
    hs = jwt.encode({"sub": "x", "aud": APP_ID}, "another-hmac-key-of-32-bytes-long!", "HS256")
    pem = stub.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    text = "\n".join(
        [
            f"Authorization: Bearer {token}",
            f"token={hs}",
            pem.splitlines()[0],
            "access_token=connector-token-7",
            "xoxp-1234567890-abcdef",
        ]
    )
    kinds = [(f.line, f.kind) for f in _scan(tmp_path, text)]
    assert kinds == [
        (1, "JSON Web Token"),
        (2, "JSON Web Token"),
        (3, "PEM private key"),
        (4, "connector access token (test stub)"),
        (5, "Slack token"),
    ]


def test_cli_names_file_and_line_masked_and_exits_nonzero(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "subprocesses").mkdir(parents=True)
    (logs / "suite.log").write_text(CLEAN, encoding="utf-8")
    leak = logs / "subprocesses" / "0001-pmark.err.log"
    leak.write_text(f"line one\n{json.dumps({'secret': SIGNING_SECRET})}\n", encoding="utf-8")
    run = [sys.executable, "-m", "tests.reliability.secret_scan", str(logs)]
    proc = subprocess.run(run, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert f"{leak}:2: Slack signing secret:" in proc.stdout
    assert SIGNING_SECRET not in proc.stdout + proc.stderr
    leak.unlink()
    proc = subprocess.run(run, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "1 file(s) clean" in proc.stdout
    assert main([str(tmp_path / "nowhere")]) == 2
