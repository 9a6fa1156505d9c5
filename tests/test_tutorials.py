"""The tutorial notebooks in docs/tutorials run from top to bottom in a fresh kernel,
draw their figures, and reach the answers they state (each ends with assertions): the
exercise's table from the library, and scanpy's pbmc68k_reduced from .h5ad to AnnData."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO, W09_TABLE

NOTEBOOKS = sorted((REPO / "docs" / "tutorials").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_and_draws(path: Path):
    if path.stem == "exercise_table" and not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), \
        "commit notebooks without outputs: CI executes them"
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [out for cell in notebook.cells for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.output_type == "error"]
    assert sum("image/png" in out.get("data", {}) for out in outputs) >= 3


def test_there_is_a_tutorial():
    assert NOTEBOOKS, "docs/tutorials holds no notebook"
