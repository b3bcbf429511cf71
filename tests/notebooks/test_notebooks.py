"""Every notebook in notebooks/ runs top to bottom on a real Jupyter kernel within its budget.

Notebooks are stored as jupytext percent-format .py files (no outputs by construction); each is
read into a notebook and executed by nbclient on the `python3` kernel of this interpreter, with
this checkout first on PYTHONPATH. A cell that raises fails the test; each cell is bounded by
the notebook's budget (a limit that stops a runaway notebook, not a timing assertion).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
EXPECTED = (
    "01_parser",
    "02_normalizer",
    "03_recommender",
    "04_database",
    "05_vector_embedding",
    "06_langgraph_workflow",
    "07_performance_evaluation",
)
BUDGET_S = {name: 120 for name in EXPECTED}


def test_the_seven_notebooks_are_stored_as_paired_scripts_without_outputs() -> None:
    assert tuple(sorted(p.stem for p in NOTEBOOKS.glob("*.py"))) == EXPECTED
    assert not list(NOTEBOOKS.glob("*.ipynb")), "store notebooks as jupytext .py files"
    for path in NOTEBOOKS.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "formats: py:percent" in text, path.name
        for section in ("**Purpose.**", "**Method.**", "**Result.**"):
            assert section in text, (path.name, section)
        imports = set(re.findall(r"^(?:from|import) ([\w.]+)", text, re.MULTILINE))
        # Only the public facade (and the standard library / numpy) — never internals.
        assert not {m for m in imports if m.split(".")[0] in ("agent", "adapters", "bot")}, path
        assert not {m for m in imports if m.startswith("evaluation") and m != "evaluation"}, path


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_on_a_kernel(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    monkeypatch.setenv("PYTHONPATH", path)  # the kernel imports this checkout
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # its workspace is cleaned with the test
    for key in (
        "PMARK_DATABASE_URL",
        "PMARK_POSTGRES_URL",
        "PMARK_WEAVIATE_URL",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(key, raising=False)
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    client = nbclient.NotebookClient(
        notebook,
        timeout=BUDGET_S[name],
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert printed.strip(), f"{name} printed no result"
