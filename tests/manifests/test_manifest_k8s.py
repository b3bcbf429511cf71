"""Kubernetes overlays render with kustomize, validate offline, and carry what PMark needs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from adapters.settings import Settings

K8S_VERSION = "1.33.0"
OVERLAYS = ("dev", "prod")
CRDS = {
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
DOCUMENTED_METRICS = {
    "pmark_node_duration_seconds",
    "pmark_node_errors_total",
    "pmark_turns_total",
    "pmark_turn_duration_seconds",
    "pmark_feedback_total",
    "pmark_handler_errors_total",
    "pmark_llm_requests_total",
    "pmark_search_fallback_total",
}
Objects = dict[str, list[dict[str, Any]]]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = find(objects, kind, name)
    return found


def container(workload: dict[str, Any], name: str) -> dict[str, Any]:
    (c,) = [c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return c


def env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c.get("env", [])}


def settings_fields() -> set[str]:
    return {f"PMARK_{name.upper()}" for name in Settings.model_fields}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_core_object_is_valid_kubernetes(
    overlay: str, rendered: Objects, kubernetes_validate: ModuleType
) -> None:
    checked = 0
    for obj in rendered[overlay]:
        if (obj["apiVersion"], obj["kind"]) in CRDS:
            continue
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 15


def test_validation_rejects_a_broken_object(
    rendered: Objects, kubernetes_validate: ModuleType
) -> None:
    deployment = one(rendered["dev"], "Deployment", "pmark")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_known_crds_appear(overlay: str, rendered: Objects) -> None:
    kinds = {(o["apiVersion"], o["kind"]) for o in rendered[overlay]}
    core = {
        k for k in kinds if "." not in k[0].split("/")[0] or k[0].split("/")[0].endswith(".k8s.io")
    }
    assert kinds - core <= CRDS
    assert ("monitoring.coreos.com/v1", "PrometheusRule") in kinds
    assert ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass") in kinds or overlay == "dev"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pmark_deployment(overlay: str, rendered: Objects) -> None:
    objects = rendered[overlay]
    d = one(objects, "Deployment", "pmark")
    assert d["spec"]["replicas"] >= 2
    pod = d["spec"]["template"]["spec"]
    c = container(d, "pmark")
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert [p["containerPort"] for p in c["ports"]] == [3978]
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    for box in [*pod["containers"], *pod.get("initContainers", [])]:
        sc = box["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
    config = one(objects, "ConfigMap", find_name(objects, "ConfigMap", "pmark-config"))["data"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts[config["PMARK_DATA_DIR"]]]
    secrets = volumes[mounts[config["PMARK_SECRETS_DIR"]]]
    if overlay == "dev":
        assert secrets["secret"]["secretName"].startswith("pmark-secrets")
    else:
        assert secrets["csi"]["driver"] == "secrets-store.csi.k8s.io"
        spc = one(
            objects,
            "SecretProviderClass",
            secrets["csi"]["volumeAttributes"]["secretProviderClass"],
        )
        assert spc["metadata"]["name"]
    assert int(config["PMARK_PORT"]) == 3978 and config["PMARK_HOST"] == "0.0.0.0"


def find_name(objects: list[dict[str, Any]], kind: str, prefix: str) -> str:
    """The generated (hash-suffixed) name of a kustomize-generated object."""
    (name,) = [
        o["metadata"]["name"]
        for o in find(objects, kind)
        if o["metadata"]["name"].startswith(prefix + "-")
    ]
    return name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_uses_only_real_settings(overlay: str, rendered: Objects) -> None:
    config = one(
        rendered[overlay], "ConfigMap", find_name(rendered[overlay], "ConfigMap", "pmark-config")
    )
    used = {k for k in config["data"] if k.startswith("PMARK_")}
    assert used - settings_fields() == {"PMARK_SECRETS_DIR"}
    Settings(
        _env_file=None,
        **{
            k[6:].lower(): v
            for k, v in config["data"].items()
            if k.startswith("PMARK_") and k != "PMARK_SECRETS_DIR"
        },
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_availability_objects(overlay: str, rendered: Objects) -> None:
    objects = rendered[overlay]
    pdb = one(objects, "PodDisruptionBudget", "pmark")
    hpa = one(objects, "HorizontalPodAutoscaler", "pmark")
    d = one(objects, "Deployment", "pmark")
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "pmark",
    }
    assert (
        hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    )
    assert not find(objects, "CronJob")  # evaluation runs inside the app, under an advisory lock


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_and_ingress_route_the_channel_endpoints(overlay: str, rendered: Objects) -> None:
    objects = rendered[overlay]
    svc = one(objects, "Service", "pmark")
    (port,) = svc["spec"]["ports"]
    c = container(one(objects, "Deployment", "pmark"), "pmark")
    assert port["targetPort"] in {p["name"] for p in c["ports"]}
    (ingress,) = find(objects, "Ingress")
    paths = {
        (p["path"], p["pathType"]): p["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert paths[("/api/messages", "Exact")]["name"] == "pmark"
    assert paths[("/slack", "Prefix")]["name"] == "pmark"
    exposed = [p for p, _ in paths]
    assert not [p for p in exposed if p in {"/", "/healthz", "/readyz", "/metrics"}]
    assert ingress["spec"]["tls"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_weaviate_has_korean_tokenizer_grpc_and_storage(overlay: str, rendered: Objects) -> None:
    objects = rendered[overlay]
    sts = one(objects, "StatefulSet", "weaviate")
    c = container(sts, "weaviate")
    assert env(c)["ENABLE_TOKENIZER_KAGOME_KR"] == "true"
    assert {"name": "grpc", "containerPort": 50051, "protocol": "TCP"} in c["ports"]
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    mounted = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounted["data"] == env(c)["PERSISTENCE_DATA_PATH"] and "data" in claims
    svc = one(objects, "Service", "weaviate")
    assert {p["port"]: p["targetPort"] for p in svc["spec"]["ports"]} == {
        8080: "http",
        50051: "grpc",
    }
    config = one(objects, "ConfigMap", find_name(objects, "ConfigMap", "pmark-config"))["data"]
    assert config["PMARK_WEAVIATE_URL"] == "http://weaviate:8080"
    assert config["PMARK_WEAVIATE_GRPC_PORT"] == "50051"


def vllm_args(c: dict[str, Any]) -> dict[str, str]:
    return dict(a.removeprefix("--").split("=", 1) for a in c["args"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_vllm_on_a_gpu_with_tensor_parallel_per_gpu(overlay: str, rendered: Objects) -> None:
    objects = rendered[overlay]
    d = one(objects, "Deployment", "vllm")
    c = container(d, "vllm")
    gpus = int(c["resources"]["limits"]["nvidia.com/gpu"])
    assert gpus >= 1 and int(c["resources"]["requests"]["nvidia.com/gpu"]) == gpus
    args = vllm_args(c)
    assert int(args["tensor-parallel-size"]) == gpus
    assert int(args["max-model-len"]) > 0
    assert 0 < float(args["gpu-memory-utilization"]) <= 0.95
    config = one(objects, "ConfigMap", find_name(objects, "ConfigMap", "pmark-config"))["data"]
    assert args["served-model-name"] == config["PMARK_LLM_MODEL"]
    assert re.search(r"qwen3|mistral-7b-instruct", config["PMARK_LLM_MODEL"], re.I)
    svc = one(objects, "Service", "vllm")
    assert config["PMARK_LLM_URL"] == f"http://vllm:{svc['spec']['ports'][0]['port']}/v1"
    assert d["spec"]["template"]["spec"]["nodeSelector"]
    assert env(c)["HF_HUB_OFFLINE"] == "1"


def test_dev_runs_postgres_with_a_plain_secret(rendered: Objects) -> None:
    objects = rendered["dev"]
    sts = one(objects, "StatefulSet", "postgres")
    assert sts["spec"]["volumeClaimTemplates"]
    one(objects, "Service", "postgres")
    secret = one(objects, "Secret", find_name(objects, "Secret", "pmark-secrets"))
    assert not find(objects, "SecretProviderClass")
    assert "postgres:5432" in decode(secret["data"]["pmark_database_url"])


def test_prod_uses_azure_postgres_and_key_vault(rendered: Objects) -> None:
    objects = rendered["prod"]
    assert not find(objects, "StatefulSet", "postgres")
    assert not [s for s in find(objects, "Secret")]  # nothing secret is committed for prod
    config = one(objects, "ConfigMap", find_name(objects, "ConfigMap", "pmark-config"))["data"]
    assert config["PGSSLMODE"] == "require"
    d = one(objects, "Deployment", "pmark")
    assert d["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    sa = one(objects, "ServiceAccount", d["spec"]["template"]["spec"]["serviceAccountName"])
    assert "azure.workload.identity/client-id" in sa["metadata"]["annotations"]


def decode(value: str) -> str:
    import base64

    return base64.b64decode(value).decode("utf-8")


def secret_files(rendered: Objects) -> dict[str, set[str]]:
    """Overlay -> the file names PMark will find in PMARK_SECRETS_DIR."""
    spc = one(rendered["prod"], "SecretProviderClass", "pmark-keyvault")
    objects = yaml.safe_load(spc["spec"]["parameters"]["objects"])["array"]
    prod = {yaml.safe_load(o)["objectAlias"] for o in objects}
    dev_secret = one(
        rendered["dev"], "Secret", find_name(rendered["dev"], "Secret", "pmark-secrets")
    )
    return {"dev": set(dev_secret["data"]), "prod": prod}


def test_secret_provider_class_shape(rendered: Objects) -> None:
    spc = one(rendered["prod"], "SecretProviderClass", "pmark-keyvault")
    assert set(spc) == {"apiVersion", "kind", "metadata", "spec"}
    assert spc["spec"]["provider"] == "azure"
    params = spc["spec"]["parameters"]
    assert all(isinstance(v, str) for v in params.values())  # the CRD declares map[string]string
    assert {"keyvaultName", "tenantId", "clientID", "objects"} <= set(params)
    for raw in yaml.safe_load(params["objects"])["array"]:
        entry = yaml.safe_load(raw)
        assert set(entry) == {"objectName", "objectType", "objectAlias"}
        assert entry["objectType"] == "secret"
        assert re.fullmatch(r"[0-9A-Za-z-]{1,127}", entry["objectName"])  # Key Vault naming


def test_settings_read_the_mounted_secret_files(
    rendered: Objects, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every mounted file name is one pydantic-settings actually reads from PMARK_SECRETS_DIR."""
    for var in [v for v in os.environ if v.upper().startswith("PMARK_")]:
        monkeypatch.delenv(var)
    for overlay, names in secret_files(rendered).items():
        directory = tmp_path / overlay
        directory.mkdir()
        for name in names:
            (directory / name).write_text("postgresql://u:p@db/x" if "url" in name else "s3cret")
        s = Settings(_env_file=None, _secrets_dir=directory)
        for name in names:
            value = getattr(s, name.removeprefix("pmark_"))
            assert value is not None, f"{overlay}: {name} is not read by Settings"
        assert {"pmark_database_url", "pmark_postgres_url"} <= names


def test_prometheus_rule_shape_and_metrics(rendered: Objects) -> None:
    (rule,) = find(rendered["prod"], "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups = rule["spec"]["groups"]
    assert len({g["name"] for g in groups}) == len(groups)
    alerts = [r for g in groups for r in g["rules"]]
    assert len({r["alert"] for r in alerts}) == len(alerts) >= 5
    used: set[str] = set()
    for r in alerts:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert re.fullmatch(r"\d+[smh]", r["for"])
        assert r["labels"]["severity"] in {"critical", "warning", "info"}
        assert r["annotations"]["summary"]
        assert r["expr"].count("(") == r["expr"].count(")")
        used |= {
            re.sub(r"_(bucket|count|sum)$", "", m) for m in re.findall(r"pmark_\w+", r["expr"])
        }
    assert used <= DOCUMENTED_METRICS
    assert used >= DOCUMENTED_METRICS - {"pmark_feedback_total"}
    # Every metric an alert or the docs name is one PMark really exports: an alert on a metric
    # nobody defines never fires.
    exported = _exported_metrics()
    assert DOCUMENTED_METRICS <= exported, DOCUMENTED_METRICS - exported


def _exported_metrics() -> set[str]:
    """Names of the pmark_* metrics registered once the serving modules are imported."""
    import importlib

    from prometheus_client import REGISTRY

    for module in ("bot.app", "adapters.llm.client", "adapters.search.fallback"):
        importlib.import_module(module)
    names: set[str] = set()
    for metric in REGISTRY.collect():
        name = metric.name + ("_total" if metric.type == "counter" else "")
        if name.startswith("pmark_"):
            names.add(name)
    return names


def test_the_hpa_scales_on_a_turn_latency_the_adapter_rule_derives_from_pmarks_metric(
    rendered: Objects,
) -> None:
    from agent.metrics import TURN_SECONDS

    rules = yaml.safe_load(
        (
            Path(__file__).resolve().parents[2]
            / "manifests/k8s/monitoring/prometheus-adapter-rules.yaml"
        ).read_text()
    )["rules"]["custom"]
    served = {r["name"]["as"]: r for r in rules}
    for objects in rendered.values():
        hpa = one(objects, "HorizontalPodAutoscaler", "pmark")
        names = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
        assert names, "the HPA has no latency metric"
        for name in names:
            rule = served[name]
            # The adapter's series is the histogram PMark really exports.
            assert f"{TURN_SECONDS._name}_bucket" in rule["seriesQuery"]
            assert "histogram_quantile(0.95" in rule["metricsQuery"]
        config = one(objects, "ConfigMap", find_name(objects, "ConfigMap", "pmark-config"))
        assert int(config["data"]["PMARK_WORKERS"]) >= 2
