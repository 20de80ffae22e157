"""``showerdata.lazy = False``: unchanged showerdata 0.7 programs run.

The programs of :mod:`v07_scripts` run in a fresh interpreter with
``DASK_SHOWERDATA__LAZY=False``; what they print is compared with what they
print under showerdata 0.7.0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dask
import numpy as np
import pytest
import v07_scripts

import showerdata

ROOT = Path(__file__).resolve().parents[1]


def run_ours(script: str, work: Path, lazy: str | None = "False") -> dict:
    """Run a 0.7 program with our package; ``lazy``: DASK_SHOWERDATA__LAZY."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DASK_SHOWERDATA__LAZY", None)
    if lazy is not None:
        env["DASK_SHOWERDATA__LAZY"] = lazy
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, str(work)],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_v07_training_program_runs_unchanged(tmp_path, v07):
    script = v07_scripts.program("read_write")
    ours = run_ours(script, tmp_path / "ours")
    (tmp_path / "v07").mkdir()
    theirs = v07(script, str(tmp_path / "v07"))
    # Hand-checked: 30 showers saved, stop=1000 clips, numpy out, F=4 after
    # the reassignment.
    assert ours["len"] == ["ok", 30]
    assert ours["type"] == ["ok", "ndarray"]
    assert ours["inc_type"] == ["ok", "ndarray"]
    assert ours["reassigned"][1][:2] == ["float32", [30, 12, 4]]
    # torch is installed where the [torch] extra is (Python 3.11), never in the
    # 0.7.0 environment: where we have it, it must see the same array as numpy.
    if "torch" in ours:
        assert ours.pop("torch") == ours["as_numpy"]
    theirs.pop("torch", None)
    assert ours.keys() == theirs.keys()
    for step, expected in theirs.items():
        assert ours[step] == expected, step


def test_the_lazy_default_would_not_run_it(tmp_path):
    """Without the setting the same program sees dask arrays (the switch matters)."""
    got = run_ours(v07_scripts.program("read_write"), tmp_path / "lazy", lazy=None)
    assert got["type"] == ["ok", "Array"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("False", False), ("0", False), ("off", False), ("True", True), ("1", True)],
)
def test_the_setting_is_read_from_the_environment(value, expected):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_SHOWERDATA__LAZY": value}
    done = subprocess.run(
        [sys.executable, "-c", "import showerdata; print(showerdata.config.lazy())"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(expected)


def test_a_wrong_value_says_what_to_set():
    with (
        dask.config.set({"showerdata.lazy": "sometimes"}),
        pytest.raises(ValueError, match="DASK_SHOWERDATA__LAZY=False"),
    ):
        showerdata.config.lazy()


def test_code_for_the_lazy_library_runs_in_both_modes(tmp_path, make_showers):
    """``.compute()``, ``.chunk()``, ``dask.compute`` and ``np.asarray`` idioms."""
    showers = make_showers(n=9, max_points=7)
    path = tmp_path / "s.h5"
    showers.save(path)
    counts = showers.num_points.copy()
    showerdata.save_target(showers.points[:, :, :2], path, num_points=counts)
    results = {}
    for lazy in (True, False):
        with dask.config.set({"showerdata.lazy": lazy}):
            loaded = showerdata.load(path, stop=100)
            assert loaded.is_lazy is lazy
            memory = loaded.compute()
            assert isinstance(memory.points, np.ndarray)
            again = loaded.chunk(4).persist().compute()
            filtered = showerdata.filter_showers(loaded, radius=50.0).compute()
            points, num_points = dask.compute(*showerdata.load_target(path))
            particles = showerdata.load_inc_particles(path).compute()
            results[lazy] = (
                np.asarray(loaded.points),
                again.points,
                filtered.points,
                points,
                num_points,
                particles.energies,
            )
    for lazy_value, eager_value in zip(*results.values(), strict=True):
        np.testing.assert_array_equal(lazy_value, eager_value)
    np.testing.assert_array_equal(results[True][0], showers.points)
    np.testing.assert_array_equal(results[True][4], counts)
