"""``import showerdata`` loads only what it uses; kernels build on first use."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
from dask.base import tokenize

ROOT = Path(__file__).resolve().parents[1]

#: Loaded when first needed, never by ``import showerdata``.
ON_DEMAND = ("zarr", "distributed", "matplotlib", "tqdm", "numba", "dask.array")


def modules_after(code: str) -> dict:
    """Which of ON_DEMAND are imported after running ``code`` in a fresh process."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps({{m: m in sys.modules for m in {ON_DEMAND!r}}}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_import_loads_none_of_the_heavy_dependencies():
    loaded = modules_after("import showerdata")
    assert not any(loaded.values()), loaded


def test_lazy_use_loads_dask_array_and_a_kernel_loads_numba(tmp_path):
    code = (
        "import numpy as np, showerdata\n"
        "from showerdata.kernels.layout import count_real_points\n"
        "assert not count_real_points.signatures\n"
        "assert count_real_points(np.ones((2, 3, 4), np.float32)).tolist() == [3, 3]\n"
        "assert count_real_points.signatures\n"
        "s = showerdata.Showers(points=np.ones((2, 3, 4)), energies=[1, 2], pdg=22)\n"
        "s.chunk(1)"
    )
    loaded = modules_after(code)
    assert loaded["numba"] and loaded["dask.array"], loaded
    assert not loaded["zarr"] and not loaded["distributed"], loaded


def test_kernels_pickle_by_name_and_tokenize_stably():
    from showerdata.kernels import layout

    kernel = layout.count_real_points
    again = pickle.loads(pickle.dumps(kernel))
    points = np.zeros((3, 4, 4), np.float32)
    points[1, :2, 3] = 1.0
    assert again(points).tolist() == [0, 2, 0]
    assert tokenize(kernel) == tokenize(again)


def test_every_kernel_is_deferred():
    from showerdata.kernels.jit import Kernel, all_kernels

    kernels = list(all_kernels())
    assert len(kernels) >= 20
    assert all(isinstance(k, Kernel) for k in kernels)
