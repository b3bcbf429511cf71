"""Fill the shipped Teams and Slack app manifests from configuration (pure; no web framework)."""

from __future__ import annotations

import copy
import json
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from adapters.settings import Settings

MANIFESTS_DIR = Path(__file__).resolve().parents[1] / "manifests"
TEAMS_DIR = MANIFESTS_DIR / "teams"
SLACK_MANIFEST = MANIFESTS_DIR / "slack" / "manifest.yaml"

# Values in the committed templates that configuration replaces.
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_DOMAIN = "pmark.example.com"
PLACEHOLDER_BASE_URL = "https://pmark.example.com"

TEAMS_PACKAGE_FILES = ("color.png", "outline.png")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(\*\.)?([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")


class PackagingError(ValueError):
    """The configuration cannot produce a valid app package."""


def _domain(value: str) -> str:
    """A bare host name from 'host', 'https://host/' or 'host:443'."""
    host = urlsplit(value if "//" in value else f"//{value}").hostname or ""
    if not _DOMAIN.match(host):
        raise PackagingError(f"not a domain name: {value!r}")
    return host.lower()


def teams_manifest(
    settings: Settings, domain: str | None = None, source: Path = TEAMS_DIR
) -> dict[str, Any]:
    """The Teams manifest with the app id, bot id and domain taken from configuration."""
    app_id = settings.microsoft_app_id
    if not app_id:
        raise PackagingError("PMARK_MICROSOFT_APP_ID is not set: register the Azure Bot first")
    if not _GUID.match(app_id):
        raise PackagingError(f"PMARK_MICROSOFT_APP_ID is not a GUID: {app_id!r}")
    template: dict[str, Any] = json.loads((source / "manifest.json").read_text("utf-8"))
    manifest = copy.deepcopy(template)
    # One Azure Bot per Teams app: the app id doubles as the Teams app id, as the Developer
    # Portal does when it creates an app from a bot.
    manifest["id"] = app_id
    for bot in manifest["bots"]:
        bot["botId"] = app_id
    if domain:
        host = _domain(domain)
        text = json.dumps(manifest["developer"]).replace(PLACEHOLDER_DOMAIN, host)
        manifest["developer"] = json.loads(text)
        manifest["validDomains"] = [host]
    else:
        # Bots need no valid domain (the endpoint lives in the Azure Bot registration);
        # leaving the placeholder in would advertise a domain nobody owns.
        manifest["validDomains"] = []
    return manifest


def build_teams_package(settings: Settings, out: Path, domain: str | None = None) -> Path:
    """Write the uploadable Teams app zip (manifest, localizations, icons) to `out`."""
    manifest = teams_manifest(settings, domain)
    files: dict[str, bytes] = {
        "manifest.json": json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    }
    for lang in manifest.get("localizationInfo", {}).get("additionalLanguages", []):
        files[lang["file"]] = (TEAMS_DIR / lang["file"]).read_bytes()
    for name in TEAMS_PACKAGE_FILES:
        files[name] = (TEAMS_DIR / name).read_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Teams wants the files at the zip root, not inside a folder.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return out


def slack_manifest(settings: Settings, base_url: str) -> dict[str, Any]:
    """The Slack app manifest with every request URL under `base_url`."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise PackagingError(f"Slack needs a public https URL, got {base_url!r}")
    base = base_url.rstrip("/")
    template: dict[str, Any] = yaml.safe_load(SLACK_MANIFEST.read_text("utf-8"))
    text = json.dumps(template).replace(PLACEHOLDER_BASE_URL, base)
    manifest: dict[str, Any] = json.loads(text)
    return manifest


def render_slack_manifest(settings: Settings, base_url: str) -> str:
    """The Slack app manifest as YAML, ready to paste into api.slack.com/apps."""
    text: str = yaml.safe_dump(
        slack_manifest(settings, base_url), allow_unicode=True, sort_keys=False, width=100
    )
    return text
