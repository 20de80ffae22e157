"""The file manager: nothing left open in the user's way, bounded, fork-safe."""

from __future__ import annotations

import multiprocessing

import dask
import h5py
import numpy as np
import pytest
from conftest import assert_showers_equal

import showerdata
from showerdata.io.files import handle, open_locations


@pytest.fixture
def production(tmp_path, make_showers):
    showers = make_showers(n=40, max_points=20)
    path = tmp_path / "production.h5"
    showerdata.save(showers, path)
    showerdata.observables.add_observables_to_file(path)
    showerdata.save_target(showers.points[:, :, :3], path, showers.num_points)
    return path, showers


READS = {
    "load compute": lambda p: showerdata.load(p).compute(),
    "one shower": lambda p: showerdata.load(p)[7].compute(),
    "chunked compute": lambda p: showerdata.load(p, chunks=7).compute(),
    "dask compute": lambda p: dask.compute(showerdata.load(p, chunks=9).energies),
    "target": lambda p: dask.compute(*showerdata.load_target(p)),
    "particles": lambda p: showerdata.load_inc_particles(p).compute(),
    "shape": showerdata.get_file_shape,
    "length": showerdata.get_file_length,
    "metadata": showerdata.load_metadata,
    "observables": showerdata.observables.read_observables_from_file,
    "point energies": showerdata.observables.read_point_energies,
    "file": lambda p: showerdata.ShowerDataFile(p).close(),
    "save elsewhere": lambda p: showerdata.save(
        showerdata.load(p, chunks=8), p.with_name("copy.h5")
    ),
}


@pytest.mark.parametrize("read", READS)
def test_nothing_stays_open_in_the_way_of_a_writer(production, read):
    path, _ = production
    READS[read](path)
    with h5py.File(path, "a") as file:  # HDF5 refuses this while we hold it open
        file.attrs["appended"] = read
    assert showerdata.load_metadata(path)["appended"] == read


def test_open_stores_are_bounded(tmp_path, make_showers):
    paths = []
    for number in range(6):
        paths.append(tmp_path / f"part-{number}.zarr")
        showerdata.save(make_showers(n=5, seed=number), paths[-1])
    showerdata.close_files()
    with dask.config.set({"showerdata.open-files": 3}):
        for path in paths:
            dask.compute(showerdata.load(path).energies)  # tasks keep stores open
            assert len(open_locations()) <= 3
    assert str(paths[-1]) in open_locations()
    showerdata.close_files()
    assert open_locations() == []


def test_a_replaced_file_is_opened_anew(tmp_path, make_showers):
    path = tmp_path / "replaced.zarr"
    first, second = make_showers(n=9, seed=1), make_showers(n=4, seed=2)
    showerdata.save(first, path)
    before = handle(path)
    showerdata.save(second, path, overwrite=True)
    assert handle(path) is not before
    assert_showers_equal(showerdata.load(path).compute(), second)


def _read_in_child(path: str) -> np.ndarray:
    return showerdata.load(path)[3:6].compute().points


def test_a_forked_child_reads_through_handles_of_its_own(tmp_path, make_showers):
    showers = make_showers(n=12)
    path = str(tmp_path / "forked.zarr")
    showerdata.save(showers, path)
    parent = handle(path)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        points = pool.apply(_read_in_child, (path,))
    np.testing.assert_array_equal(points, showers.points[3:6])
    assert handle(path) is parent  # the child's reads did not touch ours
