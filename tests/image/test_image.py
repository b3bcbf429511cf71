"""The container image that compose and the Kubernetes base deploy: built by
scripts/build_image.sh, then run as an operator would, against the suite's PostgreSQL.

Runs when PMARK_TEST_IMAGE=1 (scripts/test.sh sets it); it needs root for Podman, and the
build takes minutes. The image size and build time land in test-artifacts/image.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.bot.support import APP_ID, APP_PASSWORD, ISSUER, Stub, teams_message, write_plant
from tests.conftest import REPO, fresh_schema, service_url

pytestmark = pytest.mark.image
UID = 10001


def _podman(*args: str, check: bool = True, timeout: float = 300) -> str:
    env = {**os.environ, "CONTAINERS_CONF": str(_cache_dir() / "containers.conf")}
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {done.stderr[-3000:]}")
    return done.stdout.strip()


def _cache_dir() -> Path:
    return Path(os.environ.get("PMARK_CACHE_DIR") or Path.home() / ".cache" / "pmark")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Built:
    name: str
    seconds: float
    size: int


@pytest.fixture(scope="module")
def image() -> Built:
    """The image, built (or brought up to date) by the script operators use."""
    if os.environ.get("PMARK_TEST_IMAGE") != "1":
        pytest.skip("set PMARK_TEST_IMAGE=1 to build and run the container image (root, Podman)")
    started = time.monotonic()
    done = subprocess.run(
        [str(REPO / "scripts" / "build_image.sh")], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-5000:]
    name = done.stdout.strip().splitlines()[-1]
    seconds = time.monotonic() - started
    size = int(_podman("image", "inspect", "--format", "{{.Size}}", name))
    record = {"image": name, "size_bytes": size, "size_mib": round(size / 2**20, 1)}
    record["build_seconds"] = round(seconds, 1)
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "image.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"image {name}: {record['size_mib']} MiB, built in {seconds:.0f} s")
    return Built(name, seconds, size)


def test_compose_and_kustomize_deploy_the_image_the_build_makes(image: Built) -> None:
    import yaml

    compose = yaml.safe_load((REPO / "manifests" / "compose.yaml").read_text())
    default = compose["services"]["pmark"]["image"]  # ${IMAGE_PMARK:-name:tag}
    assert default.split(":-", 1)[1].rstrip("}") == image.name
    base = yaml.safe_load((REPO / "manifests" / "k8s" / "base" / "kustomization.yaml").read_text())
    (entry,) = [i for i in base["images"] if i["name"] == "pmark"]
    assert f"{entry['newName']}:{entry['newTag']}" == image.name


def test_image_metadata(image: Built) -> None:
    inspected = json.loads(_podman("image", "inspect", image.name))[0]
    config = inspected["Config"]
    assert config["User"].split(":")[0] == str(UID)
    assert config["Env"] and any(e == "PMARK_DATA_DIR=/var/lib/pmark" for e in config["Env"])
    assert "/var/lib/pmark" in config["Volumes"]
    # Docker format (scripts/build_image.sh builds with --format docker; OCI has no health check).
    assert inspected["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
    assert "/healthz" in inspected["Healthcheck"]["Test"][-1]
    assert config["Cmd"] == ["pmark", "serve"]


def test_models_load_with_no_network(image: Built) -> None:
    """The tokenizer and embedder models are inside: nothing is fetched at run time."""
    code = (
        "from adapters.settings import Settings;"
        "from adapters.embeddings.factory import make_embedder;"
        "from adapters.text.tokenizer import Tokenizer;"
        "e = make_embedder(Settings());"
        "v = e.encode(['펌프 누유', 'pump leak']);"
        "t = Tokenizer().tokens('냉각수 펌프에서 누유');"
        "print(v.shape[1], len(t) > 0)"
    )
    out = _podman(
        "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp",
        "--tmpfs", "/var/lib/pmark:mode=1777", image.name, "python", "-c", code,
    )  # fmt: skip
    dim, tokens = out.splitlines()[-1].split()
    assert int(dim) > 0 and tokens == "True"


@pytest.fixture
def app_schema_url() -> Iterator[str]:
    """A fresh schema in the suite's PostgreSQL for the container's application database."""
    with fresh_schema(service_url("PMARK_TEST_POSTGRES_URL", "PostgreSQL"), "img") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    s = Stub()
    await s.start()
    yield s
    await s.stop()


async def test_the_container_answers_a_teams_message(
    image: Built, app_schema_url: str, stub: Stub, tmp_path: Path
) -> None:
    checkpoints = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    folder = tmp_path / "import"
    write_plant(folder)
    folder.chmod(0o755)
    for f in folder.iterdir():
        f.chmod(0o644)
    name = f"pmark-test-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-data"
    port = _free_port()
    # The host's network: PostgreSQL and the Bot Connector stub listen on its loopback only.
    env = {
        "PMARK_DATABASE_URL": app_schema_url,
        "PMARK_POSTGRES_URL": checkpoints,
        "PMARK_HOST": "127.0.0.1",
        "PMARK_PORT": str(port),
        "PMARK_MICROSOFT_APP_ID": APP_ID,
        "PMARK_MICROSOFT_APP_PASSWORD": APP_PASSWORD,
        "PMARK_BOTFRAMEWORK_OPENID_METADATA_URL": f"{stub.base}/openid",
        "PMARK_BOTFRAMEWORK_TOKEN_ISSUER": ISSUER,
        "PMARK_BOTFRAMEWORK_LOGIN_URL": f"{stub.base}/botframework.com",
        "PMARK_EVAL_SCHEDULE_ENABLED": "false",
    }
    run = ["--network", "host", "--read-only", "--tmpfs", "/tmp", "-v", f"{volume}:/var/lib/pmark"]
    for key, value in env.items():
        run += ["-e", f"{key}={value}"]
    _podman("volume", "create", volume)
    try:
        setup = (
            "pmark db upgrade && pmark catalog import /import/catalog.csv"
            " && pmark notifications import /import/history.csv"
        )
        _podman(
            "run", "--rm", *run, "-v", f"{folder}:/import:ro", image.name, "sh", "-c", setup,
            timeout=600,
        )  # fmt: skip
        _podman("run", "-d", "--name", name, *run, image.name)
        await _answers_in_the_container(name, f"http://127.0.0.1:{port}", stub)
        assert _podman("exec", name, "id", "-u") == str(UID)
        ps = _podman("exec", name, "sh", "-c", "cat /proc/1/status | grep ^Uid")
        assert ps.split()[1] == str(UID)  # the server itself, not only a shell in it
        assert (
            subprocess.run(
                ["podman", "healthcheck", "run", name],
                env={**os.environ, "CONTAINERS_CONF": str(_cache_dir() / "containers.conf")},
                capture_output=True,
            ).returncode
            == 0
        )
        logs = _podman("logs", name)
        assert "Traceback" not in logs, logs[-3000:]
    finally:
        if shutil.which("podman"):
            _podman("rm", "-f", "-t", "10", name, check=False)
            _podman("volume", "rm", "-f", volume, check=False)


async def _answers_in_the_container(name: str, base: str, stub: Stub) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 240
        while True:
            try:
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        body = await resp.json()
                        assert body["status"] == "ready"
                        break
            except aiohttp.ClientError:
                pass
            state = _podman("inspect", "--format", "{{.State.Status}}", name)
            assert state == "running", _podman("logs", name, check=False)[-3000:]
            assert time.monotonic() < deadline, "the container did not become ready"
            await asyncio.sleep(1)
        activity = teams_message(stub.base + "/", "2공장 펌프 누유 긴급", chain="image-1")
        token = stub.channel_token(stub.base + "/")
        async with http.post(
            f"{base}/api/messages", json=activity, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 200
        replies = await stub.wait_for(
            lambda: [r for r in stub.connector("message") if r.body.get("attachments")], 120
        )
    card = replies[0].body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert replies[0].body["replyToId"] == activity["id"]
