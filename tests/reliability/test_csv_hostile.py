"""Hostile CSV files through `pmark notifications import`: named errors, Korean text intact."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.sample_data import write_catalog

PMARK = str(Path(sys.executable).with_name("pmark"))
HEADER = "itemno,created_at,location,equipment,failure_mode,priority,title,details,resolution\n"


def _run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env["PMARK_DATA_DIR"] = str(data)
    return subprocess.run([PMARK, *args], env=env, capture_output=True, text=True, timeout=300)


def _total(stdout: str) -> int:
    m = re.search(r"(\d+) in total", stdout)
    assert m, stdout
    return int(m.group(1))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir with the test catalog, shared by the module (each test adds its own rows)."""
    folder = tmp_path_factory.mktemp("csv-hostile")
    done = _run(["catalog", "import", str(write_catalog(folder / "catalog.csv"))], folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_broken_rows_are_named_and_the_good_ones_kept(data: Path) -> None:
    broken = data / "broken.csv"
    broken.write_text(
        HEADER
        + "H1,2024-05-01,SEO,PMP,LEK,1,펌프 누유,,씰 교체\n"
        + "H2,2024-13-45,SEO,PMP,LEK,1,bad date,,x\n"
        + "H3,2024-05-02\n"
        + 'H4,2024-05-02,SEO,PMP,LEK,1,"unclosed quote,,x\n'
        + "H5,2024-05-03,SEO,PMP,LEK,1,too,many,fields,here\n",
        encoding="utf-8",
    )
    out = _run(["notifications", "import", str(broken)], data)
    assert out.returncode == 0, out.stderr
    assert "1 added" in out.stdout
    for line in ("line 3", "line 4"):
        assert line in out.stderr


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp949", "euc-kr"])
def test_korean_encodings_import_with_text_intact(data: Path, encoding: str) -> None:
    tag = encoding.replace("-", "").upper()
    row = (
        f"K{tag},2024-06-01,BUS,PMP,LEK,1,부산공장 {tag} 펌프 누유,메카니컬 씰 부위,씰 교체 완료\n"
    )
    path = data / f"{tag}.csv"
    path.write_bytes((HEADER + row).encode(encoding))
    out = _run(["notifications", "import", str(path)], data)
    assert out.returncode == 0, out.stderr
    assert "1 added" in out.stdout and "0 bad rows" in out.stdout
    found = _run(["search", f"부산공장 {tag} 펌프 누유", "--json", "--k", "20"], data).stdout
    assert f"부산공장 {tag} 펌프 누유" in found and "씰 교체 완료" in found, found[:500]
    assert f'"K{tag}"' in found


def test_binary_file_is_refused_with_a_clear_message(data: Path) -> None:
    xlsx = data / "export.xlsx.csv"
    with zipfile.ZipFile(xlsx, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", bytes(range(256)) * 64)
    before = _total(_run(["notifications", "import", str(_header_only(data))], data).stdout)
    out = _run(["notifications", "import", str(xlsx)], data)
    assert out.returncode == 2
    assert "error" in out.stderr.lower() and "Traceback" not in out.stderr
    assert "UTF-8" in out.stderr or "missing columns" in out.stderr, out.stderr
    after = _total(_run(["notifications", "import", str(_header_only(data))], data).stdout)
    assert after == before


def _header_only(data: Path) -> Path:
    path = data / "header_only.csv"
    path.write_text(HEADER, encoding="utf-8")
    return path


def test_empty_file_is_refused(data: Path) -> None:
    empty = data / "empty.csv"
    empty.write_bytes(b"")
    out = _run(["notifications", "import", str(empty)], data)
    assert out.returncode == 2
    assert "empty file" in out.stderr and "Traceback" not in out.stderr


def test_header_only_file_adds_nothing(data: Path) -> None:
    out = _run(["notifications", "import", str(_header_only(data))], data)
    assert out.returncode == 0, out.stderr
    assert "0 added, 0 updated, 0 unchanged, 0 bad rows skipped" in out.stdout


def test_catalog_rows_over_the_bounds_are_named_and_the_rest_kept(tmp_path: Path) -> None:
    """A name of a thousand words would make the phrase tables quadratic: refused per row."""
    path = tmp_path / "catalog.csv"
    long_name = " ".join(["pump"] * 400)
    path.write_text(
        "category,code,name_ko,name_en,synonyms,parent\n"
        "equipment,PMP,펌프,Pump,,\n"
        f"equipment,LONG,,{long_name},,\n"
        f"equipment,{'X' * 500},밸브,Valve,,\n"
        f"equipment,SYN,팬,Fan,{'|'.join(f'fan{i}' for i in range(500))},\n",
        encoding="utf-8",
    )
    out = _run(["catalog", "import", str(path)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "3 bad rows skipped" in out.stdout, out.stdout
    assert "line 3: name_en longer than" in out.stderr
    assert "line 4: code longer than" in out.stderr
    assert "line 5: more than" in out.stderr and "synonyms" in out.stderr
    parsed = _run(["parse", "pump leaking", "--json"], tmp_path)
    assert parsed.returncode == 0, parsed.stderr
    assert '"PMP"' in parsed.stdout, parsed.stdout
