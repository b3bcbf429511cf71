"""docker-compose for a laptop: every service, volume and PMARK_* variable it names exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from adapters.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "manifests" / "compose.yaml"
SPECIAL = {"PMARK_SECRETS_DIR"}  # read from the process environment, not a Settings field


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return doc


def settings_vars() -> set[str]:
    return {f"PMARK_{name.upper()}" for name in Settings.model_fields} | SPECIAL


def test_expected_services_and_gpu_profile() -> None:
    services = compose()["services"]
    assert {"pmark", "postgres", "weaviate", "vllm"} <= set(services)
    assert services["vllm"]["profiles"] == ["gpu"]
    assert all("profiles" not in services[s] for s in ("pmark", "postgres", "weaviate"))
    (device,) = services["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    assert services["weaviate"]["environment"]["ENABLE_TOKENIZER_KAGOME_KR"] == "true"


def test_every_pmark_variable_is_a_setting() -> None:
    text = COMPOSE.read_text("utf-8")
    referenced = set(re.findall(r"\bPMARK_[A-Z0-9_]+", text))
    assert referenced, "the compose file configures PMark through PMARK_* variables"
    assert referenced - settings_vars() == set()
    env = compose()["services"]["pmark"]["environment"]
    Settings(
        _env_file=None,
        **{k[6:].lower(): v for k, v in env.items() if "${" not in str(v) and k not in SPECIAL},
    )


def test_references_resolve() -> None:
    doc = compose()
    services = doc["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        targets = list(depends) if isinstance(depends, (dict, list)) else []
        for target in targets:
            assert target in services, f"{name} depends on unknown {target}"
            # a dependency on a profiled service breaks `up` without that profile
            assert "profiles" not in services[target] or "profiles" in service
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/", "$")):
                assert source in doc["volumes"], f"{name} mounts undeclared volume {source}"
        for config in service.get("configs", []):
            assert config["source"] in doc["configs"]
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_pmark_talks_to_the_compose_services() -> None:
    doc = compose()
    env = doc["services"]["pmark"]["environment"]
    for key in ("PMARK_DATABASE_URL", "PMARK_POSTGRES_URL", "PMARK_WEAVIATE_URL", "PMARK_LLM_URL"):
        host = re.search(r"@([\w-]+):|//([\w-]+):", env[key])
        assert host, key
        assert (host.group(1) or host.group(2)) in doc["services"], key
    assert doc["services"]["pmark"]["read_only"] is True
