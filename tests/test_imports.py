"""`pmark notifications import` and `pmark demo` through the real command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.sample_data import write_catalog, write_history

PMARK = str(Path(sys.executable).with_name("pmark"))
HEADER = "itemno,created_at,location,equipment,failure_mode,priority,title,details,resolution\n"


def _run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env["PMARK_DATA_DIR"] = str(data)
    return subprocess.run([PMARK, *args], env=env, capture_output=True, text=True, timeout=300)


def _total(stdout: str) -> tuple[int, int]:
    m = re.search(r"(\d+) in total, (\d+) indexed", stdout)
    assert m, stdout
    return int(m.group(1)), int(m.group(2))


def test_import_twice_changes_nothing_and_broken_rows_are_named(tmp_path: Path) -> None:
    assert (
        _run(["catalog", "import", str(write_catalog(tmp_path / "c.csv"))], tmp_path).returncode
        == 0
    )
    history = write_history(tmp_path / "h.csv", n=40)
    first = _run(["notifications", "import", str(history)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert _total(first.stdout) == (40, 40)
    again = _run(["notifications", "import", str(history)], tmp_path)
    assert "0 added, 0 updated, 40 unchanged" in again.stdout
    assert _total(again.stdout) == (40, 40)

    broken = tmp_path / "broken.csv"
    broken.write_text(
        HEADER
        + "B1,2024-05-01,SEO,PMP,LEK,1,펌프 누유,,씰 교체\n"
        + "B2,not-a-date,SEO,PMP,LEK,1,펌프 누유,,씰 교체\n"
        + "B3,2024-05-02,SEO,PMP\n"
        + ",2024-05-03,SEO,PMP,LEK,1,title,,fix\n"
        + 'B5,2024-05-04,SEO,MTR,HOT,2,"모터, 과열",,팬 청소\n',
        encoding="utf-8",
    )
    out = _run(["notifications", "import", str(broken)], tmp_path)
    assert out.returncode == 0
    assert "2 added" in out.stdout and "3 bad rows skipped" in out.stdout
    for line in ("line 3", "line 4", "line 5"):
        assert line in out.stderr
    assert _total(out.stdout) == (42, 42)


def test_korean_excel_encodings_import_with_text_intact(tmp_path: Path) -> None:
    _run(["catalog", "import", str(write_catalog(tmp_path / "c.csv"))], tmp_path)
    row = "K1,2024-05-01,BUS,PMP,LEK,1,부산공장 펌프 누유,메카니컬 씰 부위,씰 교체 완료\n"
    cp949 = tmp_path / "cp949.csv"
    cp949.write_bytes((HEADER + row).encode("cp949"))
    bom = tmp_path / "bom.csv"
    bom.write_bytes((HEADER + row.replace("K1", "K2")).encode("utf-8-sig"))
    assert "(cp949)" in _run(["notifications", "import", str(cp949)], tmp_path).stdout
    assert "1 added" in _run(["notifications", "import", str(bom)], tmp_path).stdout
    found = _run(["search", "부산 펌프 누유", "--json"], tmp_path).stdout
    assert "부산공장 펌프 누유" in found and "씰 교체 완료" in found

    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((HEADER + row).encode("utf-16"))
    refused = _run(["notifications", "import", str(utf16)], tmp_path)
    assert refused.returncode == 2
    assert "utf_16" in refused.stderr.lower().replace("-", "_")


def test_replace_swaps_the_whole_history(tmp_path: Path) -> None:
    _run(["catalog", "import", str(write_catalog(tmp_path / "c.csv"))], tmp_path)
    _run(["notifications", "import", str(write_history(tmp_path / "h.csv", n=30))], tmp_path)
    small = tmp_path / "small.csv"
    small.write_text(
        HEADER + "R1,2024-01-01,SEO,CNV,NOS,3,컨베이어 소음,,롤러 교체\n", encoding="utf-8"
    )
    out = _run(["notifications", "import", str(small), "--replace"], tmp_path)
    assert _total(out.stdout) == (1, 1)
    found = _run(["search", "컨베이어 소음", "--json", "--k", "3"], tmp_path).stdout
    assert '"R1"' in found and '"T0' not in found
