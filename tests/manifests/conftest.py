"""Fixtures for the manifest tests: the offline validators from scripts/install_manifest_tools.sh.

A missing tool skips the test, or fails it when PMARK_REQUIRE_SERVICES=1 (the CI command).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
CACHE = Path(os.environ.get("PMARK_CACHE_DIR") or Path.home() / ".cache" / "pmark")
KUSTOMIZE_VERSION = "v5.7.1"
TEAMS_SCHEMA_VERSION = "v1.22"
HINT = "run scripts/install_manifest_tools.sh"


def missing(what: str) -> None:
    """Skip, or fail under PMARK_REQUIRE_SERVICES=1, because a validator is not installed."""
    message = f"{what} not available ({HINT})"
    if os.environ.get("PMARK_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kustomize() -> str:
    """Path of the kustomize binary (PMARK_KUSTOMIZE, the cache, or PATH) at the pinned version."""
    candidates = [os.environ.get("PMARK_KUSTOMIZE"), str(CACHE / "bin" / "kustomize")]
    candidates.append(shutil.which("kustomize"))
    for path in filter(None, candidates):
        if not Path(path).is_file():
            continue
        out = subprocess.run([path, "version"], capture_output=True, text=True, check=False)
        if KUSTOMIZE_VERSION in out.stdout:
            return path
    missing(f"kustomize {KUSTOMIZE_VERSION}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def teams_schema_dir() -> Path:
    """Directory of Microsoft's Teams manifest schemas for the version the manifest declares."""
    root = os.environ.get("PMARK_TEAMS_SCHEMA_DIR") or str(
        CACHE / "npm/node_modules/@microsoft/app-manifest/build/json-schemas/teams"
    )
    path = Path(root) / TEAMS_SCHEMA_VERSION
    if not (path / "MicrosoftTeams.schema.json").is_file():
        missing(f"@microsoft/app-manifest schemas ({path})")
    return path


@pytest.fixture(scope="session")
def jsonschema() -> ModuleType:
    """The jsonschema package."""
    try:
        import jsonschema as module
    except ImportError:
        missing("the jsonschema package")
    return module


@pytest.fixture(scope="session")
def kubernetes_validate() -> ModuleType:
    """The kubernetes-validate package (ships the Kubernetes JSON schemas)."""
    try:
        import kubernetes_validate as module
    except ImportError:
        missing("the kubernetes-validate package")
    return module


def _build(kustomize: str, overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kustomize, "build", str(MANIFESTS / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="session")
def rendered(kustomize: str) -> dict[str, list[dict[str, Any]]]:
    """Overlay name -> the objects `kustomize build` renders for it."""
    return {name: _build(kustomize, name) for name in ("dev", "prod")}
