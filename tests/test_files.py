"""The file manager: nothing left open in the user's way, bounded, fork-safe."""

from __future__ import annotations

import multiprocessing
import threading

import dask
import h5py
import numpy as np
import pytest
from conftest import assert_showers_equal

import showerdata
from showerdata.io import lazy as lazy_module
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


def _signal_then_wait(signal: threading.Event, wait_for: threading.Event):
    """A block function that sets ``signal``, then waits for ``wait_for``."""

    def block_function(block):
        if not block.size:  # dask's trial call on an empty block
            return block
        signal.set()
        assert wait_for.wait(10)
        return block

    return block_function


def _overlapping_computations(first, second) -> None:
    """Compute ``first`` and ``second`` in two threads: the second starts while
    the first runs (a task of the first starts it), and ends after it.

    dask's local schedulers take the global callbacks while they run and put
    back what they found when they end, so this order leaves the callbacks
    that showerdata registers unregistered.
    """
    second_started, first_ended = threading.Event(), threading.Event()

    def run_second():
        signal_then_wait = _signal_then_wait(second_started, first_ended)
        waiting = second.map_blocks(signal_then_wait, dtype=second.dtype)
        dask.compute(waiting, scheduler="threads")

    thread = threading.Thread(target=run_second)

    def start_second(block):
        if not block.size:
            return block
        thread.start()
        assert second_started.wait(10)
        return block

    assert first.npartitions == 1
    dask.compute(first.map_blocks(start_second, dtype=first.dtype))
    first_ended.set()
    thread.join(10)
    assert not thread.is_alive()


def test_files_close_after_threads_computed_at_once(production):
    path, showers = production
    lazy = showerdata.load(path, chunks=40)
    _overlapping_computations(lazy.energies, lazy.pdg)
    # Later computations still leave nothing open in a writer's way.
    for read in ("dask compute", "target", "load compute"):
        READS[read](path)
        with h5py.File(path, "a") as file:
            file.attrs["appended"] = read
    np.testing.assert_array_equal(
        dask.compute(showerdata.load(path).energies)[0], showers.energies
    )


def test_a_read_is_not_cut_short_when_another_computation_ends(production, monkeypatch):
    """A computation that ends closes no file that another thread is reading.

    The reader's computation starts while the first one runs, so dask counts
    only the first (see above); the first ends in the middle of the read.
    """
    path, showers = production
    lazy = showerdata.load(path, chunks=40)
    first_started, first_may_end = threading.Event(), threading.Event()
    mid_read, first_ended = threading.Event(), threading.Event()
    original = lazy_module.read_points_from

    def pausing_read(file, *args, **kwargs):
        if threading.current_thread().name == "reader":
            mid_read.set()
            assert first_ended.wait(10)
        return original(file, *args, **kwargs)

    hold = _signal_then_wait(first_started, first_may_end)

    def run_first():
        dask.compute(lazy.pdg.map_blocks(hold, dtype="int32"), scheduler="threads")

    result = {}

    def read():
        result["points"] = lazy.points.compute(scheduler="sync")  # in this thread

    monkeypatch.setattr(lazy_module, "read_points_from", pausing_read)
    first = threading.Thread(target=run_first)
    first.start()
    assert first_started.wait(10)
    reader = threading.Thread(target=read, name="reader")
    reader.start()
    assert mid_read.wait(10)
    first_may_end.set()
    first.join(10)
    first_ended.set()
    reader.join(10)
    np.testing.assert_array_equal(result["points"], showers.points)


def test_a_distributed_worker_keeps_its_files_open(production):
    """Tasks of a dask.distributed worker share one handle per file, kept open.

    Its schedulers are not the user's, so nothing tells it a computation
    ended: a file closed after every task would be reopened by the next.
    """
    from distributed import Client

    path, showers = production
    showerdata.close_files()
    with Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0"
    ) as client:
        energies = client.compute(showerdata.load(path, chunks=7).energies).result()
        assert str(path) in open_locations()
    np.testing.assert_array_equal(energies, showers.energies)
    showerdata.close_files()
