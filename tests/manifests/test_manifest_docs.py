"""docs/operations.md: the generated configuration reference is current; the guide covers ops."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from adapters.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "operations.md"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_config_reference", REPO / "scripts" / "gen_config_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_reference_matches_the_settings_class() -> None:
    gen = generator()
    current = DOC.read_text("utf-8")
    assert gen.render(current) == current, "run python scripts/gen_config_reference.py"
    assert gen.main(["--check"]) == 0


def test_reference_lists_every_setting_once() -> None:
    block = generator().reference()
    rows = re.findall(r"^\| `(PMARK_[A-Z0-9_]+)` \|", block, re.M)
    fields = [f"PMARK_{n.upper()}" for n in Settings.model_fields]
    assert rows == [*fields, "PMARK_SECRETS_DIR"]


def test_drift_is_detected() -> None:
    gen = generator()
    stale = DOC.read_text("utf-8").replace("| `PMARK_LOG_LEVEL` |", "| `PMARK_LOGLEVEL` |")
    assert gen.render(stale) != stale


def test_guide_covers_what_operators_need() -> None:
    text = DOC.read_text("utf-8")
    for needle in (
        "pmark teams package --out pmark-teams.zip",
        "kustomize build manifests/k8s/overlays/prod",
        "pmark db upgrade",
        "mssql+pyodbc://user:pass@server.database.windows.net:1433/db"
        "?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes",
        "## Following this guide from a fresh clone",
    ):
        assert needle in text, needle
    for metric in (
        "pmark_node_duration_seconds",
        "pmark_node_errors_total",
        "pmark_turns_total",
        "pmark_turn_duration_seconds",
        "pmark_feedback_total",
        "pmark_handler_errors_total",
        "pmark_llm_requests_total",
        "pmark_search_fallback_total",
    ):
        assert f"`{metric}" in text, metric
