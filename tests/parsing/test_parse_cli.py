"""`pmark parse` as other tools call it, on an imported catalog that is not the default one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.sample_data import write_catalog

PMARK = str(Path(sys.executable).with_name("pmark"))


def _run(args: list[str], data: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env["PMARK_DATA_DIR"] = str(data)
    return subprocess.run(
        [PMARK, *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_parse_stdin_json_lines_in_order(tmp_path: Path) -> None:
    _run(["catalog", "import", str(write_catalog(tmp_path / "c.csv")), "--replace"], tmp_path)
    lines = ["부산공장 급수펌프 누유 긴급", "seoul compressor vib", "", "모터 과열 P-7"]
    out = _run(["parse", "-", "--json"], tmp_path, "\n".join(lines) + "\n").stdout.splitlines()
    objs = [json.loads(line) for line in out]
    assert [o["text"] for o in objs] == [t for t in lines if t]
    first = objs[0]
    assert set(first) == {
        "text",
        "location",
        "equipment",
        "failure_mode",
        "priority",
        "activity",
        "equipment_tag",
        "confidence",
        "missing",
    }
    assert (first["location"], first["equipment"], first["failure_mode"], first["priority"]) == (
        "BUS",
        "PMP-FW",
        "LEK",
        "1",
    )
    assert isinstance(first["priority"], str)
    assert objs[1]["missing"] == ["priority"]
    assert objs[2]["equipment_tag"] == "P-7"
    single = json.loads(_run(["parse", "서울", "모터", "소음", "--json"], tmp_path).stdout)
    assert single["text"] == "서울 모터 소음" and single["equipment"] == "MTR"


def test_catalog_import_reports_bad_lines_and_keeps_good_rows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "category,code,name_ko,name_en,synonyms,parent\n"
        "equipment,PMP,펌프,pump,pmp,\n"
        "gizmo,X,엑스,x,,\n"
        "equipment,,이름,name,,\n"
        "equipment,PMP,펌프,pump,pmp,\n"
        "failure_mode,LEK,누설,leak,누유\n",
        encoding="utf-8",
    )
    out = _run(["catalog", "import", str(bad), "--replace"], tmp_path)
    assert "1 added" in out.stdout
    for line in ("line 3", "line 4", "line 5", "line 6"):
        assert line in out.stderr
