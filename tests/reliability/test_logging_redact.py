"""adapters.logging_redact: configured secrets never reach a log line, wherever they hide."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from adapters.logging_redact import (
    MASK,
    SecretRedactor,
    install_redaction,
    secret_values,
)
from adapters.settings import Settings
from tests.bot.support import APP_PASSWORD, BOT_TOKEN, SIGNING_SECRET
from tests.fake_secrets import ADMIN_TOKEN, LLM_API_KEY

REPO = Path(__file__).resolve().parents[2]
PG_PASSWORD = "pg-Secret-9xQ/w"  # a "/" so that the URL carries it percent-encoded
DSN = "postgresql://pmark:pg-Secret-9xQ%2Fw@127.0.0.1:1/pmark"


def _settings(**extra: object) -> Settings:
    values: dict[str, object] = {
        "_env_file": None,
        "microsoft_app_password": SecretStr(APP_PASSWORD),
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "admin_token": SecretStr(ADMIN_TOKEN),
        "llm_api_key": SecretStr(LLM_API_KEY),
        "weaviate_api_key": SecretStr("weaviate-key-Pq4"),
        "database_url": DSN.replace("postgresql://", "postgresql+psycopg://"),
        "postgres_url": "postgresql://pmark:ckpt-Pass-77@127.0.0.1:1/pmark_checkpoints",
        "llm_url": "http://127.0.0.1:9/v1",
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


ALL = [
    APP_PASSWORD,
    BOT_TOKEN,
    SIGNING_SECRET,
    ADMIN_TOKEN,
    LLM_API_KEY,
    "weaviate-key-Pq4",
    PG_PASSWORD,
    "ckpt-Pass-77",
]


@pytest.fixture(autouse=True)
def _last_resort_untouched() -> Iterator[None]:
    """install_redaction also filters logging.lastResort: leave it as it was for other tests."""
    before = list(logging.lastResort.filters) if logging.lastResort is not None else []
    yield
    if logging.lastResort is not None:
        for f in list(logging.lastResort.filters):
            if f not in before:
                logging.lastResort.removeFilter(f)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own (not propagating to the suite's log file) writing to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("pmark.test.redact")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    install_redaction(_settings(), logger=logger)
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def test_every_secret_setting_and_url_password_is_collected() -> None:
    values = set(secret_values(_settings()))
    # The URL password as the URL carries it; the filter masks its decoded form too.
    assert values >= set(ALL) - {PG_PASSWORD} | {"pg-Secret-9xQ%2Fw"}
    assert secret_values(Settings(_env_file=None)) == []  # type: ignore[call-arg]


def test_message_and_arguments_are_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.info("slack says %s and teams %r", BOT_TOKEN, {"password": APP_PASSWORD})
    logger.warning(f"admin {ADMIN_TOKEN} llm Bearer {LLM_API_KEY} weaviate-key-Pq4")
    logger.error("db %s ckpt %s", DSN, "postgresql://pmark:ckpt-Pass-77@h/x")
    logger.info("plain %d items at %s", 3, "http://127.0.0.1:9/v1")
    text = stream.getvalue()
    for secret in ALL:
        assert secret not in text
    assert "slack says *** and teams {'password': '***'}" in text
    assert f"db postgresql://pmark:{MASK}@127.0.0.1:1/pmark ckpt postgresql://pmark:{MASK}@h/x" in (
        text
    )
    assert "plain 3 items at http://127.0.0.1:9/v1" in text


def test_secret_in_an_exception_traceback_is_masked(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    try:
        try:
            raise psycopg.OperationalError(
                f'connection failed: "{DSN}": password authentication failed '
                f"(password {PG_PASSWORD!r})"
            )
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"checkpointer at {DSN} unavailable") from exc
    except RuntimeError:
        logger.exception("could not open %s", "the checkpointer")
    text = stream.getvalue()
    assert "Traceback (most recent call last)" in text
    assert "psycopg.OperationalError: connection failed" in text
    assert "RuntimeError: checkpointer at postgresql://pmark:***@127.0.0.1:1/pmark" in text
    assert PG_PASSWORD not in text and "pg-Secret-9xQ%2Fw" not in text


def test_real_psycopg_error_through_a_handler_installed_like_pmark_serve() -> None:
    # libpq quotes a malformed URI, password and all, in its error message.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("pmark.test.redact.real")
    logger.propagate = False
    logger.addHandler(handler)
    install_redaction(_settings(), logger=logger)
    raised: list[str] = []
    try:
        try:
            psycopg.connect(DSN.replace("@127.0.0.1:1/", "@[::1/"))
        except psycopg.Error as exc:
            raised.append(str(exc))
            logger.exception("database down")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert raised and "pg-Secret-9xQ%2Fw" in raised[0]  # the leak is real
    text = stream.getvalue()
    assert "database down" in text and "psycopg.ProgrammingError" in text
    assert "pg-Secret-9xQ%2Fw" not in text and PG_PASSWORD not in text
    assert 'in URI: "postgresql://pmark:***@[::1/pmark"' in text


def test_short_values_are_not_masked_everywhere() -> None:
    redactor = SecretRedactor(["abc", "", "longer-secret"])
    assert redactor.redact("abc abc longer-secret") == f"abc abc {MASK}"


def test_installing_twice_keeps_one_filter() -> None:
    logger = logging.getLogger("pmark.test.redact.twice")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        install_redaction(_settings(), logger=logger)
        install_redaction(_settings(), logger=logger)
        assert sum(isinstance(f, SecretRedactor) for f in handler.filters) == 1
        assert logging.lastResort is not None
        assert sum(isinstance(f, SecretRedactor) for f in logging.lastResort.filters) == 1
    finally:
        logger.removeHandler(handler)


def test_pmark_command_masks_secrets_in_what_it_logs(tmp_path: Path) -> None:
    """The console script installs the filter before any command runs (last-resort handler)."""
    code = (
        "import logging, sys; from bot.cli import _mask_secrets_in_logs; "
        "_mask_secrets_in_logs(); "
        "logging.getLogger('x').warning('token %s url %s', sys.argv[1], sys.argv[2])"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PMARK_DATA_DIR": str(tmp_path),
        "PMARK_SLACK_BOT_TOKEN": BOT_TOKEN,
        "PMARK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, BOT_TOKEN, "redis://:pw-In-Url-1@h:6379/0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == f"token {MASK} url redis://:{MASK}@h:6379/0"
