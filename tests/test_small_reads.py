"""Small reads take plain h5py and numpy paths; they agree with the kernels."""

from __future__ import annotations

import itertools

import h5py
import numpy as np
import pytest
from conftest import assert_showers_equal
from test_imports import modules_after

import showerdata
from showerdata import validation
from showerdata.errors import ShowerDataError
from showerdata.io.hdf5 import read as hdf5_read
from showerdata.kernels.layout import first_invalid_shower
from showerdata.toy import toy_arrays
from showerdata.validation import first_invalid_shower_numpy


def blocks_with_problems():
    """Padded blocks, each with one kind of damage at a few places.

    Every kind of problem the check knows, in real points and in padding,
    alone and after an earlier problem in the same shower.
    """
    rng = np.random.default_rng(11)
    counts = np.array([0, 1, 4, 6, 3], np.int64)
    base = np.zeros((5, 6, 4), np.float32)
    for i, k in enumerate(counts):
        base[i, :k] = rng.random((k, 4), dtype=np.float32) + 0.5
    yield base, counts
    damages = [
        lambda b, i, j: b.__setitem__((i, j, 3), -1.0),
        lambda b, i, j: b.__setitem__((i, j, 0), np.nan),
        lambda b, i, j: b.__setitem__((i, j, 3), np.inf),
        lambda b, i, j: b.__setitem__((i, j, 3), -np.inf),  # negative first
        lambda b, i, j: b.__setitem__((i, j, 3), 0.0),
        lambda b, i, j: b.__setitem__((i, j, 3), 2.0),
    ]
    for damage, i, j in itertools.product(damages, range(5), range(6)):
        block = base.copy()
        damage(block, i, j)
        yield block, counts
        again = block.copy()
        damage(again, i, (j + 2) % 6)
        yield again, counts
    yield base, np.array([0, 1, 4, 7, 3], np.int64)
    yield base, np.array([0, -1, 4, 6, 3], np.int64)
    yield base[:0], counts[:0]


@pytest.mark.parametrize("check_padding", [True, False])
def test_the_numpy_check_gives_the_kernels_answer(check_padding):
    answers = set()
    for points, counts in blocks_with_problems():
        expected = first_invalid_shower(points, counts, check_padding)
        got = first_invalid_shower_numpy(points, counts, check_padding)
        assert got == tuple(int(v) for v in expected), (points, counts)
        answers.add(got[1])
    assert len(answers) == 6  # the five problems and OK all occur


@pytest.fixture(params=["small", "kernel"])
def read_path(request, monkeypatch):
    """Reads through the small path (default for these files) or the kernels."""
    if request.param == "kernel":
        monkeypatch.setattr(validation, "SMALL_BLOCK_VALUES", 0)
        monkeypatch.setattr(hdf5_read, "SMALL_BLOCK_VALUES", 0)
    return request.param


@pytest.fixture
def stored(tmp_path):
    arrays = toy_arrays(0, 30, seed=4, max_points=12, num_features=5)
    showers = showerdata.Showers(**arrays)
    path = tmp_path / "s.h5"
    showers.save(path)
    return path, showers


def test_both_paths_read_the_same(stored, read_path):
    path, showers = stored
    assert_showers_equal(showerdata.load(path, chunks=7).compute(), showers)
    assert_showers_equal(showerdata.load(path)[[3, 9, 4]].compute(), showers[[3, 9, 4]])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1, 2, 0, -0.5, 0], "shower 12: negative point energy"),
        ([1, 2, 0, 0, 0, 1, 2, 0, 0.5, 0], "shower 12: padding"),
        ([1, 2, 0, np.nan, 0], "shower 12: point coordinates or energies are NaN"),
    ],
)
def test_both_paths_name_the_bad_shower(stored, read_path, values, message):
    path, _ = stored
    with h5py.File(path, "r+") as file:
        file["showers"][12] = np.asarray(values, np.float32)
        file["num_points"][12] = len(values) // 5
    with pytest.raises(ShowerDataError, match=message):
        showerdata.load(path).compute()


def test_a_0_7_mode_read_of_a_small_file_needs_no_dask_array_nor_numba(stored):
    path, _ = stored
    code = (
        "import dask; dask.config.set({'showerdata.lazy': False})\n"
        f"import showerdata; s = showerdata.load({str(path)!r})\n"
        "assert type(s.points).__name__ == 'ndarray' and len(s) == 30"
    )
    loaded = modules_after(code)
    assert not any(loaded.values()), loaded


def test_a_lazy_read_of_a_small_file_needs_no_numba(stored):
    path, _ = stored
    loaded = modules_after(
        f"import showerdata; s = showerdata.load({str(path)!r}).compute()"
    )
    assert not loaded["numba"] and loaded["dask.array"], loaded
