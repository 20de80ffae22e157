"""Shuffling several files into one, out of core (showerdata.shuffle)."""

from __future__ import annotations

import os
import subprocess
import sys

import dask
import numpy as np
import pytest

import showerdata
from showerdata.shuffle import (
    shuffle_files,
    shuffle_permutation,
    shuffle_sources,
    shuffled,
)
from showerdata.toy import toy_arrays

#: Every test here runs with each HDF5 row reader.
pytestmark = pytest.mark.usefixtures("hdf5_reader")


def write_production(path, count, seed, first_id, max_points=30, num_features=5):
    """A toy file whose shower ids are first_id, first_id + 1, ... (unique)."""
    arrays = toy_arrays(
        0, count, seed=seed, max_points=max_points, num_features=num_features
    )
    arrays["shower_ids"] = np.arange(first_id, first_id + count, dtype=np.int32)
    showers = showerdata.Showers(**arrays)
    showerdata.save(showers, path)
    return showers


@pytest.fixture
def inputs(tmp_path):
    """Two files of different lengths: 37 showers (ids 0..) and 25 (ids 1000..)."""
    a = write_production(tmp_path / "a.h5", 37, seed=1, first_id=0)
    b = write_production(tmp_path / "b.h5", 25, seed=2, first_id=1000)
    return [tmp_path / "a.h5", tmp_path / "b.h5"], showerdata.concatenate([a, b])


def assert_equal(actual, expected):
    for name in showerdata.Showers.FIELDS:
        a, e = getattr(actual, name), getattr(expected, name)
        assert a.dtype == e.dtype and a.shape == e.shape, name
        assert a.tobytes() == e.tobytes(), name


def test_output_is_the_reference_permutation(inputs, tmp_path):
    paths, together = inputs
    out = tmp_path / "shuffled.h5"
    # 7 showers per chunk: most chunks draw from both files, some from one.
    written = shuffle_files(paths, out, seed=11, chunks=7)
    assert written == 62
    reference = together[shuffle_permutation(62, 11)]
    result = showerdata.load(out).compute()
    assert_equal(result, reference)
    # Nothing lost, nothing duplicated, and really shuffled.
    ids = result.shower_ids
    assert sorted(ids) == sorted(together.shower_ids)
    assert not np.array_equal(ids, together.shower_ids)


def test_same_seed_same_order_however_chunked_or_scheduled(inputs):
    paths, _ = inputs
    with dask.config.set(scheduler="sync"):
        small = shuffled(paths, seed=3, chunks=5).compute()
    with dask.config.set(scheduler="threads", num_workers=2):
        large = shuffled(paths, seed=3, chunks=40).compute()
    assert_equal(small, large)
    other = shuffled(paths, seed=4, chunks=5).compute()
    assert not np.array_equal(other.shower_ids, small.shower_ids)


def test_shuffled_is_lazy_and_chunked(inputs):
    paths, _ = inputs
    result = shuffled(paths, seed=0, chunks=10)
    assert result.is_lazy
    assert result.chunks == (10,) * 6 + (2,)


def test_one_input_and_many_chunks(inputs):
    paths, together = inputs
    result = shuffled(paths[:1], seed=9, chunks=4).compute()
    assert_equal(result, together[:37][shuffle_permutation(37, 9)])


def test_overwrite_ids_numbers_the_output(inputs):
    paths, together = inputs
    result = shuffled(paths, seed=2, overwrite_ids=True, chunks=9).compute()
    assert np.array_equal(result.shower_ids, np.arange(62, dtype=np.int32))
    # only the ids change
    reference = together[shuffle_permutation(62, 2)]
    assert np.array_equal(result.energies, reference.energies)
    assert np.array_equal(result.points, reference.points)


def test_first_showers_of_each_file_only(inputs):
    paths, together = inputs
    result = shuffled(paths, seed=1, max_showers_per_file=10).compute()
    assert len(result) == 20
    assert sorted(result.shower_ids) == [*range(10), *range(1000, 1010)]
    first = showerdata.concatenate([together[:10], together[37:47]])
    assert_equal(result, first[shuffle_permutation(20, 1)])


def test_empty_inputs_give_an_empty_file(inputs, tmp_path):
    paths, _ = inputs
    out = tmp_path / "empty.h5"
    assert shuffle_files(paths, out, seed=0, max_showers_per_file=0) == 0
    assert showerdata.get_file_shape(out) == (0, 30, 5)


def test_inputs_must_agree_on_points_and_features(inputs, tmp_path):
    paths, _ = inputs
    write_production(tmp_path / "long.h5", 5, seed=3, first_id=0, max_points=31)
    write_production(tmp_path / "four.h5", 5, seed=3, first_id=0, num_features=4)
    for odd in ("long.h5", "four.h5"):
        with pytest.raises(ValueError, match="same max points and features") as error:
            shuffle_files([*paths, tmp_path / odd], tmp_path / "out.h5", seed=0)
        assert odd in str(error.value)
    assert not (tmp_path / "out.h5").exists()
    with pytest.raises(ValueError, match="at least one input"):
        shuffle_sources([])


def test_output_must_be_new_and_not_an_input(inputs, tmp_path):
    paths, together = inputs
    with pytest.raises(ValueError, match="also an input"):
        shuffle_files(paths, paths[0], seed=0, overwrite=True)
    out = tmp_path / "out.h5"
    shuffle_files(paths, out, seed=0)
    before = out.read_bytes()
    with pytest.raises(FileExistsError):
        shuffle_files(paths, out, seed=1)
    assert out.read_bytes() == before
    shuffle_files(paths, out, seed=1, overwrite=True)
    assert out.read_bytes() != before
    # inputs untouched
    assert_equal(showerdata.load(paths[0]).compute(), together[:37])


def test_bad_rows_stop_the_shuffle_and_leave_no_output(inputs, tmp_path):
    import h5py

    paths, _ = inputs
    with h5py.File(paths[1], "r+") as file:
        row = file["showers"][4].copy()
        row[3] = -1.0  # energy of the first point
        file["showers"][4] = row
    out = tmp_path / "out.h5"
    with pytest.raises(showerdata.ShowerDataError, match="shower 4"):
        shuffle_files(paths, out, seed=0, chunks=8)
    assert sorted(os.listdir(tmp_path)) == ["a.h5", "b.h5"]


def test_shuffle_into_a_zarr_store(inputs, tmp_path):
    paths, together = inputs
    out = tmp_path / "shuffled.zarr"
    shuffle_files(paths, out, seed=5, chunks=16)
    assert_equal(showerdata.load(out).compute(), together[shuffle_permutation(62, 5)])


# Runs the command from a small interpreter: a child's peak RSS (ru_maxrss)
# starts at its parent's at exec time, and pytest's is large.
LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _peak_rss_mib(arguments: list[str]) -> float:
    """Run ``python -m showerdata ...`` and return its peak RSS in MiB."""
    command = [sys.executable, "-m", "showerdata", *arguments]
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], capture_output=True, text=True
    )
    status, peak_kib = done.stdout.split()
    assert status == "0", done.stderr
    return int(peak_kib) / 1024


def test_memory_is_bounded_by_chunks_not_files(tmp_path):
    def pair(name, count):
        paths = [tmp_path / f"{name}-{k}.h5" for k in range(2)]
        for seed, path in enumerate(paths):
            toy = showerdata.toy.toy_showers(count, seed=seed, max_points=1000)
            showerdata.save(toy, path)
        return [str(p) for p in paths]

    small, large = pair("small", 500), pair("large", 4000)
    options = ["--seed", "1", "--quiet", "--chunk-size", "100"]  # 1.9 MiB chunks
    peaks = {}
    for name, paths in (("small", small), ("large", large)):
        out = str(tmp_path / f"{name}-out.h5")
        peaks[name] = _peak_rss_mib(["shuffle", *paths, out, *options])
    assert showerdata.get_file_shape(tmp_path / "large-out.h5") == (8000, 1000, 5)
    # 7,000 more showers are 134 MiB more of padded points: holding them (or
    # the inputs) would show; streaming them does not.
    extra_mib = 7000 * 1000 * 5 * 4 / 2**20
    assert peaks["large"] - peaks["small"] < extra_mib / 2, peaks
