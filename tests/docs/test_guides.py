"""The role guides' commands run as written.

Every fenced block marked `bash` in docs/researcher.md, developer.md and performance.md is run
from the repository root, in order, each guide on its own fresh PMARK_DATA_DIR; blocks marked
`sh` are the explicitly shown-only ones (servers, installs, long benchmarks). Every fence must
say which it is, so nothing is skipped by accident.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDES = ("researcher.md", "developer.md", "performance.md")
FENCE = re.compile(r"^```(\S*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUN, SHOWN = "bash", {"sh", "text"}


def blocks(guide: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block of a guide."""
    text = (REPO / "docs" / guide).read_text(encoding="utf-8")
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


@pytest.mark.parametrize("guide", GUIDES)
def test_every_block_is_marked_run_or_shown(guide: str) -> None:
    found = blocks(guide)
    assert any(lang == RUN for lang, _ in found), f"{guide} has no command that runs"
    assert {lang for lang, _ in found} <= {RUN} | SHOWN, guide


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_commands_run_as_written(guide: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    for key in ("PMARK_DATABASE_URL", "PMARK_POSTGRES_URL", "PMARK_WEAVIATE_URL",
                "PMARK_LLM_URL", "MLFLOW_TRACKING_URI"):  # fmt: skip
        env.pop(key, None)
    env["PMARK_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    for lang, body in blocks(guide):
        if lang != RUN:
            continue
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", body],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, (
            f"{guide}:\n{body}\n--- stdout\n{done.stdout[-3000:]}\n"
            f"--- stderr\n{done.stderr[-3000:]}"
        )
