"""The image the build makes is the image compose and Kubernetes deploy; the Dockerfile keeps
the properties the manifests count on (numeric non-root user, data volume, health check)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def built_name() -> str:
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "build_image.sh"), "--name"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_build_name_follows_the_package_version() -> None:
    version = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert version is not None
    assert built_name() == f"ghcr.io/pmark/pmark:{version.group(1)}"


def test_compose_and_kustomize_deploy_the_built_image() -> None:
    name = built_name()
    compose = yaml.safe_load((REPO / "manifests" / "compose.yaml").read_text("utf-8"))
    image = compose["services"]["pmark"]["image"]
    assert re.fullmatch(r"\$\{IMAGE_PMARK:-(.+)\}", image), image
    assert image == f"${{IMAGE_PMARK:-{name}}}"
    base = yaml.safe_load(
        (REPO / "manifests" / "k8s" / "base" / "kustomization.yaml").read_text("utf-8")
    )
    (entry,) = [i for i in base["images"] if i["name"] == "pmark"]
    assert f"{entry['newName']}:{entry['newTag']}" == name
    prod = yaml.safe_load(
        (REPO / "manifests" / "k8s" / "overlays" / "prod" / "kustomization.yaml").read_text()
    )
    (pushed,) = [i for i in prod["images"] if i["name"] == "pmark"]
    assert pushed["newTag"] == name.rsplit(":", 1)[1]  # the same build, pushed to ACR


def test_dockerfile_runs_as_a_numeric_non_root_user_with_a_data_volume() -> None:
    text = (REPO / "Dockerfile").read_text("utf-8")
    assert re.search(r"^ARG BASE=python:3\.11-slim-bookworm$", text, re.M)
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2  # wheels built apart from the runtime
    uid = re.search(r"^ARG PMARK_UID=(\d+)$", text, re.M)
    assert uid is not None and int(uid.group(1)) > 0
    # Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
    assert re.search(r"^USER \$\{PMARK_UID\}:\$\{PMARK_UID\}$", text, re.M)
    assert re.search(r'^VOLUME \["/var/lib/pmark"\]$', text, re.M)
    assert "PMARK_DATA_DIR=/var/lib/pmark" in text
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)
    compose = yaml.safe_load((REPO / "manifests" / "compose.yaml").read_text("utf-8"))
    assert compose["services"]["pmark"]["user"] == f"{uid.group(1)}:{uid.group(1)}"
