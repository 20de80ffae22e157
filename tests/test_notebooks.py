"""The notebooks in notebooks/: committed without outputs, and they run.

Each notebook is executed with nbclient in a fresh working directory, where it
generates its own small toy production (the default of its parameters cell).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import showerdata

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "showerdata-tests"


def committed_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    names = {path.name for path in committed_notebooks()}
    assert {"interactive_slicing.ipynb", "distributed_run.ipynb"} <= names


@pytest.mark.parametrize("path", committed_notebooks(), ids=lambda p: p.name)
def test_committed_without_outputs(path):
    """Outputs are not committed: clear them (e.g. with nbstripout) before a commit."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts"


@pytest.fixture
def kernel(tmp_path_factory, monkeypatch):
    """A kernel spec running this interpreter, whatever kernels the user has."""
    spec_dir = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "showerdata tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    # JUPYTER_PATH comes first in jupyter's search path.
    monkeypatch.setenv("JUPYTER_PATH", str(spec_dir.parent.parent))
    # The notebooks' defaults: a toy production, figures shown inline.
    monkeypatch.delenv("SHOWERDATA_PRODUCTION", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    return KERNEL


def execute(name: str, workdir: Path, kernel: str) -> tuple[list[dict], float]:
    """Run notebook ``name`` in ``workdir``; its outputs and the run time."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=300,
        resources={"metadata": {"path": str(workdir)}},
    )
    began = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - began
    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    ]
    return outputs, seconds


def stdout_of(outputs: list[dict]) -> str:
    return "".join(
        o.get("text", "")
        for o in outputs
        if o["output_type"] == "stream" and o["name"] == "stdout"
    )


def figures_in(outputs: list[dict]) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for o in outputs
        if o["output_type"] == "display_data"
    )


def run_without_errors(name: str, directory: Path, kernel) -> tuple[list, str]:
    """Run notebook ``name`` in ``directory``: its outputs (no error) and text."""
    outputs, seconds = execute(name, directory, kernel)
    print(f"{name} ran in {seconds:.1f} s")
    assert not [o for o in outputs if o["output_type"] == "error"]
    return outputs, stdout_of(outputs)


def test_interactive_slicing_runs(tmp_path, kernel):
    outputs, text = run_without_errors("interactive_slicing.ipynb", tmp_path, kernel)
    assert "shower 123:" in text
    assert "E > 70 GeV" in text
    assert "ILD cells" in text
    assert figures_in(outputs) >= 2  # one shower, the observables
    assert (tmp_path / "toy-production.h5").is_file()
    assert (tmp_path / "clustered-high-energy.h5").is_file()


def test_distributed_run_runs(tmp_path, kernel):
    outputs, text = run_without_errors("distributed_run.ipynb", tmp_path, kernel)
    assert "dashboard: http://127.0.0.1:" in text
    assert "ILD cells" in text
    assert figures_in(outputs) >= 1
    assert "from 4 files" in text  # the toy production, opened as one
    parts = sorted(p.name for p in (tmp_path / "clustered").iterdir())
    assert parts == [f"part-{k:03d}.h5" for k in range(4)] + ["part.index.json"]
    assert len(showerdata.load(tmp_path / "clustered" / "part-*.h5")) == len(
        showerdata.load(tmp_path / "clustered.zarr")
    )
    store = tmp_path / "clustered.zarr"
    assert store.is_dir(), "clustered.zarr is not a zarr store (a directory)"
    assert (store / "zarr.json").is_file()


@pytest.mark.torch
def test_training_loader_runs(tmp_path, kernel):
    outputs, text = run_without_errors("training_loader.ipynb", tmp_path, kernel)
    assert "25 batches per epoch" in text
    assert "epoch 2: mean loss" in text
    assert "same batches: True" in text
    assert "two workers: 1600 showers, 1600 distinct, of 1600" in text
    assert "rank 0 of 2: 13 batches per rank;" in text
    assert "epoch 0 saw 1600 distinct showers of 1600 yielded" in text
