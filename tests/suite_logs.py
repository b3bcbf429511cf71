"""pytest plugin: every log line of the suite, and what its subprocesses print, kept in one dir.

- All log records (every logger, DEBUG and up; a few test-tooling loggers held higher, see
  QUIET_TOOLING) go to `<dir>/suite.log` through pytest's own log-file handler (unless
  --log-file names another file). Failure reports still show WARNING and up only.
- Every subprocess a test (or the code under test) starts through `subprocess.Popen` (which
  `subprocess.run` and asyncio's subprocesses use too) has its stdout and stderr copied to
  `<dir>/subprocesses/NNNN-<program>.{out,err}.log`, while the test still reads its pipes as
  before: a thread relays each stream to the log file and to where it was going.
- At the end of the session the dir is scanned for the suite's secrets
  (tests/reliability/secret_scan.py); a hit fails the run. PMARK_TEST_SECRET_SCAN=0 skips it.

The dir is PMARK_TEST_LOG_DIR (emptied first; a pytest that a test starts gets a `nested/` dir in
it instead) or a fresh `.pytest-logs/<time>-<pid>` (sessions of
other contributors run at the same time, so each gets its own; day-old ones are removed).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO / ".pytest-logs"
SUITE_LOG = "suite.log"
SUBPROCESS_DIR = "subprocesses"
LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s %(filename)s:%(lineno)d %(message)s"
_STALE_SECONDS = 24 * 3600
OWNER_ENV = "PMARK_TEST_LOG_OWNER"  # the pid of the session that owns PMARK_TEST_LOG_DIR
# Loggers held above DEBUG (see pytest_configure).
QUIET_TOOLING = {
    "selenium.webdriver.remote.remote_connection": 20,  # INFO
    "aiohttp.access": 30,  # WARNING
    # A trace of every SQLite call with the repr of its (binary checkpoint) parameters: 97% of
    # the volume, formatted while holding the GIL, enough to stall the event loop under test.
    "aiosqlite": 20,  # INFO
}

_state: dict[str, Any] = {}


def session_log_dir() -> Path | None:
    """The dir this session logs into (None when the plugin is not active)."""
    value = _state.get("dir")
    return value if isinstance(value, Path) else None


def session_log_files() -> list[Path]:
    """Every file this session's logs are in (flushed first)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    files: list[Path] = []
    folder = session_log_dir()
    if folder is not None and folder.is_dir():
        files.extend(p for p in sorted(folder.rglob("*")) if p.is_file())
    extra = _state.get("extra_log_file")
    if isinstance(extra, Path) and extra.is_file() and extra not in files:
        files.append(extra)
    return files


def _choose_dir() -> Path:
    configured = os.environ.get("PMARK_TEST_LOG_DIR")
    owner = os.environ.get(OWNER_ENV)
    if configured and owner and owner != str(os.getpid()):
        # A pytest started by a test (a guide's command, say) inherits the dir: emptying it
        # would take the running session's suite.log away, so it logs into a dir of its own
        # inside it (which the outer session's scan covers too).
        folder = Path(configured).resolve() / "nested" / f"{time.strftime('%H%M%S')}-{os.getpid()}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    if configured:
        folder = Path(configured).resolve()
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    DEFAULT_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in DEFAULT_ROOT.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    folder = DEFAULT_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Subprocess output ---------------------------------------------------------------------------

_seq = itertools.count(1)
_lock = threading.Lock()


def _program(args: Any) -> str:
    first = args if isinstance(args, str | bytes | os.PathLike) else next(iter(args), "proc")
    name = os.path.basename(os.fsdecode(first).split()[0] if first else "proc")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40] or "proc"


def _relay(source: int, log_path: Path, header: str, target: int | None) -> None:
    """Copy `source` to the log file and to `target` (closed at EOF) until the writer closes."""
    with open(log_path, "ab") as log:
        log.write(header.encode())
        log.flush()
        while True:
            try:
                chunk = os.read(source, 65536)
            except OSError:
                break
            if not chunk:
                break
            log.write(chunk)
            log.flush()
            if target is not None:
                try:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(target, view) :]
                except OSError:
                    # The reader went away: keep logging what the child writes.
                    os.close(target)
                    target = None
    os.close(source)
    if target is not None:
        os.close(target)


class _Relays:
    """The relay pipes of one Popen between _get_handles and _execute_child."""

    def __init__(self) -> None:
        self.close_after_spawn: list[int] = []
        self.threads: list[tuple[int, Path, str, int | None]] = []


def _install_relay(folder: Path) -> Callable[[], None]:
    """Patch subprocess.Popen so children's stdout/stderr are also written under `folder`."""
    out_dir = folder / SUBPROCESS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    popen: Any = subprocess.Popen
    original_get_handles = popen._get_handles
    original_execute_child = popen._execute_child

    def get_handles(self: Any, stdin: Any, stdout: Any, stderr: Any) -> tuple[int, ...]:
        handles = original_get_handles(self, stdin, stdout, stderr)
        p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite = handles
        relays = _Relays()
        with _lock:
            number = next(_seq)
        stem = f"{number:04d}-{_program(getattr(self, 'args', None) or ['proc'])}"
        test = os.environ.get("PYTEST_CURRENT_TEST", "(no test)")
        header = f"# pytest: {test}\n"

        def reroute(kind: str, arg: Any, parent_read: int, child_write: int) -> int:
            """A fresh pipe for the child's side of one stream; returns its write end."""
            if arg == subprocess.PIPE:
                # Popen reads parent_read and closes child_write after the spawn: keep the old
                # write end for the relay, give the child a new one (closed by Popen instead).
                target: int | None = child_write
            elif arg == subprocess.DEVNULL:
                target = None
            elif arg is None:
                target = os.dup(1 if kind == "out" else 2)
            else:
                return child_write
            read_end, write_end = os.pipe()
            if arg != subprocess.PIPE:
                # Popen neither made nor closes this end: close it once the child has it.
                relays.close_after_spawn.append(write_end)
            relays.threads.append((read_end, out_dir / f"{stem}.{kind}.log", header, target))
            return write_end

        try:
            stdout_to_stderr = stderr == subprocess.STDOUT
            new_c2pwrite = reroute("out", stdout, c2pread, c2pwrite)
            if stdout_to_stderr:
                new_errwrite = new_c2pwrite if new_c2pwrite != -1 else errwrite
            else:
                new_errwrite = reroute("err", stderr, errread, errwrite)
        except OSError:
            return handles  # out of descriptors: run the child unrelayed
        self._pmark_relays = relays
        for source, path, head, target in relays.threads:
            threading.Thread(
                target=_relay,
                args=(source, path, head, target),
                name=f"log-relay-{path.name}",
                daemon=True,
            ).start()
        return (p2cread, p2cwrite, c2pread, new_c2pwrite, errread, new_errwrite)

    def execute_child(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_execute_child(self, *args, **kwargs)
        finally:
            relays = getattr(self, "_pmark_relays", None)
            if relays is not None:
                for fd in relays.close_after_spawn:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                relays.close_after_spawn.clear()

    popen._get_handles = get_handles
    popen._execute_child = execute_child

    def uninstall() -> None:
        popen._get_handles = original_get_handles
        popen._execute_child = original_execute_child

    return uninstall


# Hooks ---------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin("logging") is False or hasattr(config, "workerinput"):
        return
    folder = _choose_dir()
    _state["dir"] = folder
    if os.environ.get("PMARK_TEST_LOG_DIR") and OWNER_ENV not in os.environ:
        os.environ[OWNER_ENV] = str(os.getpid())
    if config.getoption("log_file", None):
        _state["extra_log_file"] = Path(config.getoption("log_file")).resolve()
    else:
        config.option.log_file = str(folder / SUITE_LOG)
    if not config.getoption("log_file_level", None) and not config.getini("log_file_level"):
        config.option.log_file_level = "DEBUG"
    if not config.getoption("log_file_format", None) and not config.getini("log_file_format"):
        config.option.log_file_format = LOG_FORMAT
    _state["uninstall"] = _install_relay(folder)
    # Test tooling, not PMark, logging the /eval?token=… URLs tests open on purpose: Selenium
    # logs every WebDriver command at DEBUG, aiohttp's access log every request line of the test
    # servers (`pmark serve` and the app fixtures run without an access log). And aiosqlite's
    # call trace, far too heavy to keep.
    for name, level in QUIET_TOOLING.items():
        logging.getLogger(name).setLevel(level)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Failure reports (and caplog) keep showing WARNING and up, as before the file went DEBUG."""
    plugin = session.config.pluginmanager.get_plugin("logging-plugin")
    if plugin is None or session_log_dir() is None:
        return
    if session.config.getoption("log_level", None) or session.config.getini("log_level"):
        return
    for name in ("report_handler", "caplog_handler"):
        handler = getattr(plugin, name, None)
        if isinstance(handler, logging.Handler):
            handler.setLevel(logging.WARNING)


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall = _state.pop("uninstall", None)
    if uninstall is not None:
        uninstall()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session_log_dir() is None or os.environ.get("PMARK_TEST_SECRET_SCAN") == "0":
        return
    if session.config.option.collectonly:
        return
    from tests.reliability.secret_scan import format_finding, known_secrets, scan_files

    findings = scan_files(session_log_files(), known_secrets())
    reporter: Any = session.config.pluginmanager.get_plugin("terminalreporter")
    if findings:
        lines = [f"secret scan of the session logs: {len(findings)} leak(s)"]
        lines += [format_finding(f) for f in findings[:50]]
        if reporter is not None:
            reporter.write_sep("=", "secrets in the logs", red=True)
            for line in lines:
                reporter.write_line(line)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None and reporter.verbosity >= 0:
        reporter.write_line(f"logs of this session (no secret in them): {session_log_dir()}")
