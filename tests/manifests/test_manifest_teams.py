"""The Teams app: manifest valid under Microsoft's schema, localized commands, icons, package."""

from __future__ import annotations

import importlib.util
import json
import struct
import zipfile
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from adapters.settings import Settings
from bot.packaging import PackagingError, build_teams_package, teams_manifest

REPO = Path(__file__).resolve().parents[2]
TEAMS = REPO / "manifests" / "teams"
APP_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def validator(jsonschema: ModuleType, schema: dict[str, Any]) -> Any:
    """A validator for Microsoft's draft-04 schemas that also enforces their `const` keywords.

    The schemas declare draft-04 but use draft-06 `const` (e.g. manifestVersion); a plain
    Draft4Validator would silently ignore those constraints.
    """
    v = jsonschema.validators
    cls = v.extend(v.Draft4Validator, {"const": v.Draft7Validator.VALIDATORS["const"]})
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(jsonschema: ModuleType, schema_file: Path, doc: dict[str, Any]) -> list[str]:
    schema = json.loads(schema_file.read_text("utf-8"))
    errors = validator(jsonschema, schema).iter_errors(doc)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def png_info(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, raw scanlines) of a non-interlaced 8-bit PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        assert zlib.crc32(kind + body) == crc, kind
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0
    return width, height, colour, zlib.decompress(idat)


def test_committed_manifest_follows_microsofts_schema(
    jsonschema: ModuleType, teams_schema_dir: Path
) -> None:
    manifest = json.loads((TEAMS / "manifest.json").read_text("utf-8"))
    assert manifest["manifestVersion"] == teams_schema_dir.name.lstrip("v")
    assert (
        schema_errors(jsonschema, teams_schema_dir / "MicrosoftTeams.schema.json", manifest) == []
    )


def test_schema_check_catches_a_bad_manifest(
    jsonschema: ModuleType, teams_schema_dir: Path
) -> None:
    manifest = json.loads((TEAMS / "manifest.json").read_text("utf-8"))
    manifest["manifestVersion"] = "1.99"
    manifest["bots"][0]["scopes"].append("everywhere")
    errors = schema_errors(jsonschema, teams_schema_dir / "MicrosoftTeams.schema.json", manifest)
    assert any(e.startswith("manifestVersion") for e in errors)
    assert any(e.startswith("bots/0/scopes") for e in errors)


def test_korean_localization_follows_microsofts_schema(
    jsonschema: ModuleType, teams_schema_dir: Path
) -> None:
    ko = json.loads((TEAMS / "ko-kr.json").read_text("utf-8"))
    schema = teams_schema_dir / "MicrosoftTeams.Localization.schema.json"
    assert schema_errors(jsonschema, schema, ko) == []


def test_bot_scopes_and_every_command_has_korean_text() -> None:
    manifest = json.loads((TEAMS / "manifest.json").read_text("utf-8"))
    (bot,) = manifest["bots"]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    listed = {scope for cl in bot["commandLists"] for scope in cl["scopes"]}
    assert listed == {"personal", "team", "groupChat"}
    langs = manifest["localizationInfo"]["additionalLanguages"]
    assert [lang["languageTag"] for lang in langs] == ["ko-kr"]
    ko = json.loads((TEAMS / langs[0]["file"]).read_text("utf-8"))
    for i, command_list in enumerate(bot["commandLists"]):
        for j, command in enumerate(command_list["commands"]):
            key = f"bots[0].commandLists[{i}].commands[{j}]"
            assert command["title"].isascii()
            korean = ko[f"{key}.title"]
            assert any("\uac00" <= ch <= "\ud7a3" for ch in korean), key
            assert f"{key}.description" in ko
    assert not [
        k
        for k in ko
        if k.startswith("bots[0].commandLists[")
        and ".commands[" in k
        and k.rsplit(".", 1)[0]
        not in {
            f"bots[0].commandLists[{i}].commands[{j}]"
            for i, cl in enumerate(bot["commandLists"])
            for j in range(len(cl["commands"]))
        }
    ]


def load_icons_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_icons", TEAMS / "make_icons.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_icons_are_what_the_committed_script_draws() -> None:
    for name, data in load_icons_script().icons().items():
        assert (TEAMS / name).read_bytes() == data, (
            f"run python manifests/teams/make_icons.py ({name})"
        )


def test_colour_icon_is_192_and_outline_is_32_white_on_transparent() -> None:
    w, h, colour, _ = png_info((TEAMS / "color.png").read_bytes())
    assert (w, h) == (192, 192) and colour in (2, 6)
    w, h, colour, raw = png_info((TEAMS / "outline.png").read_bytes())
    assert (w, h, colour) == (32, 32, 6)
    stride = 1 + 4 * w
    pixels = [
        tuple(raw[y * stride + 1 + 4 * x : y * stride + 5 + 4 * x])
        for y in range(h)
        for x in range(w)
    ]
    assert all(p[3] == 0 or p == (255, 255, 255, 255) for p in pixels)
    transparent = sum(p[3] == 0 for p in pixels)
    assert 0 < transparent < len(pixels)


def test_package_fills_ids_and_domain_and_validates(
    tmp_path: Path, jsonschema: ModuleType, teams_schema_dir: Path
) -> None:
    out = build_teams_package(
        settings(microsoft_app_id=APP_ID),
        tmp_path / "pkg" / "pmark-teams.zip",
        "https://bot.contoso.com/",
    )
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        ko = json.loads(zf.read("ko-kr.json"))
        assert zf.read("color.png") == (TEAMS / "color.png").read_bytes()
    assert names == {"manifest.json", "ko-kr.json", "color.png", "outline.png"}
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["bot.contoso.com"]
    assert manifest["developer"]["privacyUrl"].startswith("https://bot.contoso.com/")
    assert "00000000-0000-0000-0000-000000000000" not in json.dumps(manifest)
    assert "example.com" not in json.dumps(manifest)
    assert (
        schema_errors(jsonschema, teams_schema_dir / "MicrosoftTeams.schema.json", manifest) == []
    )
    schema = teams_schema_dir / "MicrosoftTeams.Localization.schema.json"
    assert schema_errors(jsonschema, schema, ko) == []


def test_package_without_domain_lists_no_placeholder_domain() -> None:
    manifest = teams_manifest(settings(microsoft_app_id=APP_ID))
    assert manifest["validDomains"] == []
    assert manifest["id"] == APP_ID


@pytest.mark.parametrize(
    ("app_id", "domain", "message"),
    [
        (None, None, "PMARK_MICROSOFT_APP_ID is not set"),
        ("my-bot", None, "not a GUID"),
        (APP_ID, "not a domain", "not a domain"),
    ],
)
def test_package_refuses_bad_configuration(
    tmp_path: Path, app_id: str | None, domain: str | None, message: str
) -> None:
    with pytest.raises(PackagingError, match=message):
        build_teams_package(settings(microsoft_app_id=app_id), tmp_path / "x.zip", domain)
    assert not (tmp_path / "x.zip").exists()
