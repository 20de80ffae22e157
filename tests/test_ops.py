"""Showers-level operations: same results lazy and in memory, lazy until computed."""

from __future__ import annotations

import dask
import h5py
import numpy as np
import pytest
from conftest import assert_showers_equal

import showerdata
from showerdata import ShowerDataError, observables
from showerdata.detector import get_ILD_geometry, get_test_geometry
from showerdata.filter import filter_file, get_detector_thresholds
from showerdata.toy import toy_showers

ILD = get_ILD_geometry()


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """(path, in-memory showers) of a toy production of 60 showers in 4 chunks."""
    path = tmp_path_factory.mktemp("ops") / "toy.h5"
    showers = toy_showers(60, seed=5, max_points=400, chunks=16)
    showerdata.save(showers, path)
    return path, showers.compute()


OPERATIONS = {
    "filter": lambda s: showerdata.filter_showers(s, 50.0, 1e-4, 2.5e-4),
    "cluster-fixed-grid": lambda s: showerdata.cluster(s, random_shift=False),
    "cluster-seeded": lambda s: showerdata.cluster(s, seed=11),
    "shift": lambda s: showerdata.shift(s),
    "shift-inverse": lambda s: showerdata.shift(s, inverse=True),
}


@pytest.mark.parametrize("name", OPERATIONS)
def test_lazy_and_in_memory_agree_and_form_is_kept(production, name):
    path, memory = production
    operation = OPERATIONS[name]
    lazy_result = operation(showerdata.load(path, chunks=16))
    memory_result = operation(memory)
    assert lazy_result.is_lazy and not memory_result.is_lazy
    assert_showers_equal(lazy_result.compute(), memory_result)
    # num_points is recounted from the op's output
    counted = np.count_nonzero(memory_result.points[:, :, 3], axis=1)
    np.testing.assert_array_equal(memory_result.num_points, counted)


def test_building_an_op_reads_nothing(production, tmp_path):
    path, memory = production
    broken = tmp_path / "broken.h5"
    showerdata.save(memory, broken)
    with h5py.File(broken, "r+") as file:
        file["num_points"][50] = 1  # row 50 no longer matches
    lazy = showerdata.cluster(
        showerdata.filter_showers(showerdata.load(broken)), seed=1
    )
    energies = observables.calc_energy_per_layer(lazy, detector_config=ILD)
    with pytest.raises(ShowerDataError, match="shower 50"):
        energies.compute()


def test_seeded_cluster_is_independent_of_chunks_and_scheduler(production):
    path, memory = production
    reference = showerdata.cluster(memory, seed=2024)
    for chunks, scheduler in [(7, "threads"), (60, "sync"), (13, "processes")]:
        lazy = showerdata.cluster(showerdata.load(path, chunks=chunks), seed=2024)
        with dask.config.set(scheduler=scheduler):
            assert_showers_equal(lazy.compute(), reference)
    other = showerdata.cluster(memory, seed=2025)
    assert not np.array_equal(other.points, reference.points)


def test_random_shift_conserves_energy_and_uses_the_grid(production):
    _, memory = production
    clustered = showerdata.cluster(memory, seed=9)
    before = memory.points[:, :, 3].astype(np.float64).sum(axis=1)
    after = clustered.points[:, :, 3].astype(np.float64).sum(axis=1)
    np.testing.assert_allclose(after, before, rtol=1e-5)
    assert (clustered.num_points <= memory.num_points).all()
    ecal = (clustered.points[:, :, 2] < 29.5) & (clustered.points[:, :, 3] > 0)
    # ECAL cells are 5 mm: neighbouring cell centres of one shower differ by k*5 mm
    for i in range(3):
        x = np.unique(clustered.points[i, ecal[i], 0])
        steps = np.diff(x) / ILD.ecal_cell_size
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)


def test_numpy_global_seed_makes_unseeded_cluster_reproducible(production):
    _, memory = production
    np.random.seed(3)  # noqa: NPY002 - the legacy global state is what 0.7 users seed
    first = showerdata.cluster(memory[:5])
    np.random.seed(3)  # noqa: NPY002 - the legacy global state is what 0.7 users seed
    assert showerdata.cluster(memory[:5]) == first
    # ... and the grid is shifted: the cells differ from those of the fixed grid.
    fixed = showerdata.cluster(memory[:5], random_shift=False)
    assert not np.array_equal(first.points, fixed.points)


def test_unseeded_clusterings_draw_from_many_seeds(production):
    # 200 global seeds give 200 grids: the seed is drawn from far more than 200
    # values (a small range would repeat, by the pigeonhole principle).
    _, memory = production
    grids = set()
    for global_seed in range(200):
        np.random.seed(global_seed)  # noqa: NPY002 - the state 0.7 users seed
        grids.add(showerdata.cluster(memory[:1]).points.tobytes())
    assert len(grids) == 200


def test_a_fixed_grid_ignores_a_seed(production):
    _, memory = production
    fixed = showerdata.cluster(memory[:5], random_shift=False)
    assert showerdata.cluster(memory[:5], random_shift=False, seed=4) == fixed


def test_ops_computed_together_keep_their_own_results(production, tmp_path):
    # Two ops in one graph must not share task keys: not two cuts of one input,
    # nor one cut of two inputs.
    path, memory = production
    other = tmp_path / "other.h5"
    showerdata.save(memory[::-1], other)
    loose, tight = 1e-4, 5e-3
    together = dask.compute(
        showerdata.filter_showers(showerdata.load(path), ecal_threshold=loose).points,
        showerdata.filter_showers(showerdata.load(path), ecal_threshold=tight).points,
        showerdata.filter_showers(showerdata.load(other), ecal_threshold=loose).points,
    )
    alone = [
        showerdata.filter_showers(data, ecal_threshold=cut).points
        for data, cut in ((memory, loose), (memory, tight), (memory[::-1], loose))
    ]
    for got, expected in zip(together, alone, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert not np.array_equal(together[0], together[1])


@pytest.mark.parametrize(
    ("name", "block"),
    [
        ("filter", "_filter_block"),
        ("cluster-seeded", "_cluster_block"),
        ("shift", "_shift_block"),
    ],
)
def test_the_tasks_of_an_op_are_named_after_it(production, name, block):
    # The name users see in the dashboard and in a graph's keys.
    path, _ = production
    lazy = OPERATIONS[name](showerdata.load(path, chunks=16))
    assert lazy.points.name.startswith(f"{block}-")


def test_parameter_errors_are_raised_when_building(production):
    path, _ = production
    lazy = showerdata.load(path)
    with pytest.raises(ValueError, match="radius"):
        showerdata.filter_showers(lazy, radius=-1.0)
    with pytest.raises(TypeError):
        showerdata.filter_showers(lazy, ecal_threshold="high")
    with pytest.raises(TypeError, match="processes"):
        showerdata.cluster(lazy, processes="2")


def test_layers_beyond_the_geometry_name_the_shower(production):
    _, memory = production
    small = get_test_geometry(10)
    deep = int(np.argmax((memory.points[:, :, 2] >= 10).any(axis=1)))
    with pytest.raises(ShowerDataError, match=f"shower {deep}"):
        observables.calc_num_points_per_layer(memory, detector_config=small)


def test_shift_rejects_a_direction_without_z(production):
    _, memory = production
    bad = memory.copy()
    bad.directions[4] = (1.0, 0.0, 0.0)
    lazy = bad.chunk(3)
    shifted = showerdata.shift(lazy)  # builds fine
    with pytest.raises(ShowerDataError, match="shower 4"):
        shifted.compute()


def test_observables_lazy_equal_in_memory(production):
    path, memory = production
    lazy = showerdata.load(path, chunks=16)
    for function in (
        observables.calc_num_points_per_layer,
        observables.calc_energy_per_layer,
    ):
        result = function(lazy, detector_config=ILD)
        np.testing.assert_array_equal(
            result.compute(), function(memory, detector_config=ILD)
        )
        assert result.shape == (60, 78)
    radial = observables.calc_energy_per_radial_bin(lazy)
    assert radial.shape == (60, 200)
    np.testing.assert_array_equal(
        radial.compute(), observables.calc_energy_per_radial_bin(memory)
    )
    center = observables.calc_center_of_energy(lazy, detector_config=ILD)
    np.testing.assert_array_equal(
        center.compute(), observables.calc_center_of_energy(memory, ILD)
    )
    inferred = observables.calc_num_points_per_layer(memory)
    assert inferred.shape[1] == int((memory.points[:, :, 2] + 0.1).max()) + 1
    with pytest.raises(ValueError, match="num_layers"):
        observables.calc_num_points_per_layer(lazy)


def test_add_and_read_observables(production, tmp_path):
    _, memory = production
    path = tmp_path / "obs.h5"
    showerdata.save(memory.chunk(16), path)
    observables.add_observables_to_file(path)
    assert (
        showerdata.load_metadata(path)["observables_computed_for"] == "ILD_unclustered"
    )
    read = observables.read_observables_from_file(path, start=10, stop=30)
    geometry = showerdata.detector.get_ILD_unclustered_geometry()
    expected = observables.calc_energy_per_layer(
        memory[10:30], detector_config=geometry
    )
    np.testing.assert_array_equal(read["energy_per_layer"], expected)
    np.testing.assert_array_equal(read["total_energy"], expected.sum(axis=1))
    np.testing.assert_array_equal(read["incident_energies"], memory.energies[10:30])
    assert read["num_points_per_layer"].dtype == np.int32
    with pytest.raises(ValueError, match="already contains"):
        observables.add_observables_to_file(path)
    observables.add_observables_to_file(path, overwrite=True, detector_config=ILD)
    assert showerdata.load_metadata(path)["observables_computed_for"] == "ILD"
    with pytest.raises(ValueError, match="'nope' not found"):
        observables.read_observables_from_file(path, ["nope"])
    # the showers themselves are untouched
    assert_showers_equal(showerdata.load(path).compute(), memory)

    energies = observables.read_point_energies(path, 3, 5)
    real = memory.points[3:5, :, 3]
    np.testing.assert_array_equal(energies, real[real > 0])

    observables.save_observables_to_file(path, {"mine": np.arange(60)})
    assert observables.load(path, ["mine"])["mine"].tolist() == list(range(60))


def test_filter_file_and_detector_thresholds(production, tmp_path):
    path, memory = production
    out = tmp_path / "filtered.h5"
    filter_file(path, out, radius=30.0, ecal_threshold=1e-4)
    expected = showerdata.filter_showers(memory, 30.0, 1e-4)
    assert_showers_equal(showerdata.load(out).compute(), expected)
    assert get_detector_thresholds(path) == (0.0, 0.0, 30)
    showerdata.add_metadata(out, {"clustered_for": "ILD"})
    assert get_detector_thresholds(out) == (1e-4, 2.5e-4, 30)
