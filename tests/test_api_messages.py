"""The file API, held to its whole word: messages, dtypes, forms in the 0.7 mode.

Each message is written out by hand from what the function is documented to
say (0.7's sentence first where 0.7 had one, then ours naming the file, the
dataset and the sizes). Dtypes are those of the file format (points float32,
counts int32), which 0.7 wrote too.
"""

from __future__ import annotations

from pathlib import Path

import dask
import dask.array as da
import h5py
import numpy as np
import pytest

import showerdata
from showerdata import MissingDataError, ShowerDataError, Showers
from showerdata.toy import toy_showers

N, P, F = 10, 20, 4


@pytest.fixture
def empty_file(tmp_path):
    """A file made by create_empty_file for N showers of (P, F)."""
    path = tmp_path / "batches.h5"
    showerdata.create_empty_file(path, (N, P, F))
    return path


@pytest.fixture
def showers() -> Showers:
    return toy_showers(N, max_points=P, num_features=F, seed=1).compute()


def message(error: pytest.ExceptionInfo) -> str:
    return str(error.value)


def padded(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``values`` with the rows past each count zeroed, as a target is stored."""
    real = np.arange(values.shape[1])[None, :] < counts[:, None]
    return np.where(real[..., None], values, 0).astype(np.float32)


# -- save_batch and create_empty_file ---------------------------------------------


def test_save_batch_refuses_a_pattern_and_says_what_writes_one(tmp_path, showers):
    pattern = str(tmp_path / "part-{:05d}.h5")
    with pytest.raises(ValueError) as raised:
        showerdata.save_batch(showers[:5], pattern)
    assert message(raised) == (
        f"save_batch writes into one existing file, not a pattern ('{pattern}'); "
        "save() writes to a pattern."
    )
    assert list(tmp_path.iterdir()) == []


def test_save_batch_into_a_file_without_shape(tmp_path, showers):
    path = tmp_path / "plain.h5"
    h5py.File(path, "w").close()
    with pytest.raises(MissingDataError) as raised:
        showerdata.save_batch(showers[:5], path)
    assert message(raised) == (
        f"Key 'shape' not found in {path}. (not a file made by create_empty_file "
        "or save)"
    )


def test_save_batch_past_the_end_names_start_length_and_rows(empty_file, showers):
    with pytest.raises(IndexError) as raised:
        showerdata.save_batch(showers[:5], empty_file, start=8)
    assert message(raised) == (
        f"Cannot write to {empty_file}: start index 8 + data length 5 exceeds "
        f"file shape {N}."
    )


def test_save_batch_of_other_showers_names_both_row_shapes(empty_file):
    narrow = toy_showers(5, max_points=12, num_features=F, seed=2).compute()
    with pytest.raises(ValueError) as raised:
        showerdata.save_batch(narrow, empty_file)
    assert message(raised) == (
        f"Shape mismatch: expected ({P}, {F}), got (12, {F}) "
        f"(file '{empty_file}', dataset 'showers')"
    )


def test_save_batch_writes_the_rows_it_is_given(empty_file, showers):
    showerdata.save_batch(showers[5:], empty_file, start=5)
    showerdata.save_batch(showers[:5], empty_file, start=0)
    with h5py.File(empty_file) as file:
        np.testing.assert_array_equal(file["energies"][:], showers.energies)
        np.testing.assert_array_equal(file["num_points"][:], showers.num_points)


def test_create_empty_file_replaces_a_file_by_default_as_0_7_did(empty_file):
    showerdata.create_empty_file(empty_file, (3, 5, 4))
    assert showerdata.get_file_shape(empty_file) == (3, 5, 4)
    with pytest.raises(FileExistsError) as raised:
        showerdata.create_empty_file(empty_file, (2, 5, 4), overwrite=False)
    assert message(raised) == (
        f"File {empty_file} already exists. Use overwrite=True to overwrite."
    )
    assert showerdata.get_file_shape(empty_file) == (3, 5, 4)


# -- get_file_length ---------------------------------------------------------------


def energies_as_text(path: Path, showers: Showers) -> None:
    showers.save(path)
    with h5py.File(path, "r+") as file:
        del file["energies"]
        file["energies"] = np.array([b"a", b"b"])


def energies_as_a_group(path: Path, showers: Showers) -> None:
    with h5py.File(path, "w") as file:
        file.create_group("energies")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (
            energies_as_text,
            "(invalid datasets) file '{path}', dataset 'energies': has dtype |S1, "
            "expected a float type",
        ),
        (
            energies_as_a_group,
            "(energies is not a dataset) file '{path}', dataset 'energies': "
            "expected a dataset, found a group",
        ),
    ],
)
def test_file_length_of_damaged_energies(tmp_path, showers, damage, reason):
    path = tmp_path / "damaged.h5"
    damage(path, showers)
    with pytest.raises(ShowerDataError) as raised:
        showerdata.get_file_length(path)
    assert message(raised) == (
        f"{path} is not a valid shower data file. " + reason.format(path=path)
    )


# -- targets -----------------------------------------------------------------------


def test_add_target_dataset_names_the_shape_argument(empty_file):
    with pytest.raises(ValueError) as raised:
        showerdata.add_target_dataset(empty_file, (N, P))
    assert message(raised) == (
        f"shape must be 3 non-negative integers (N, P, F), got {(N, P)}."
    )


@pytest.fixture
def target_file(empty_file):
    showerdata.add_target_dataset(empty_file, (N, P, 3))
    return empty_file


def test_save_target_batch_past_the_end(target_file):
    with pytest.raises(IndexError) as raised:
        showerdata.save_target_batch(np.zeros((4, P, 3)), target_file, np.ones(4), 8)
    assert message(raised) == (
        f"Cannot write to {target_file}: start index 8 + data length 4 exceeds "
        f"file shape {N}."
    )


def test_save_target_batch_of_another_row_shape_names_the_dataset(target_file):
    with pytest.raises(ValueError) as raised:
        showerdata.save_target_batch(np.zeros((4, P - 1, 3)), target_file, np.ones(4))
    assert message(raised) == (
        f"Shape mismatch: expected ({P}, 3), got ({P - 1}, 3) "
        f"(file '{target_file}', dataset 'target/point_clouds')"
    )


def test_save_target_batch_into_a_missing_target(target_file):
    with pytest.raises(MissingDataError) as raised:
        showerdata.save_target_batch(
            np.zeros((4, P, 3)), target_file, np.ones(4), key="other"
        )
    assert message(raised) == f"Key 'other' not found in {target_file}."


def test_save_target_over_an_existing_one_needs_overwrite(target_file):
    with pytest.raises(FileExistsError) as raised:
        showerdata.save_target(np.zeros((N, P, 3)), target_file, np.ones(N))
    assert message(raised) == (
        f"Dataset 'target' already exists in {target_file}. Use overwrite=True to "
        "overwrite."
    )


def test_save_target_without_counts_needs_a_file_with_them(tmp_path):
    path = tmp_path / "plain.h5"
    h5py.File(path, "w").close()
    with pytest.raises(MissingDataError) as raised:
        showerdata.save_target(np.zeros((N, P, 3)), path)
    assert message(raised) == (
        f"file '{path}': no 'num_points' dataset to take the target's from; pass "
        "num_points."
    )


@pytest.mark.parametrize("lazy_data", [False, True], ids=["numpy", "dask"])
def test_counts_in_memory_are_checked_at_once_with_0_7s_message(tmp_path, lazy_data):
    data = np.zeros((3, 4, 2))
    if lazy_data:
        data = da.from_array(data, chunks=2)
    path = tmp_path / "target.h5"
    with pytest.raises(ValueError) as raised:
        showerdata.save_target(data, path, np.array([1, 5, 1]))
    assert not isinstance(raised.value, ShowerDataError)
    assert message(raised) == (
        "num_points values cannot exceed the maximum number of points (4)."
    )
    assert not path.exists()


@pytest.mark.parametrize("lazy_data", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
def test_targets_are_stored_as_float32_whatever_they_were(tmp_path, lazy_data, suffix):
    values = np.random.default_rng(3).normal(size=(N, P, 3))  # float64
    counts = np.arange(N) % P
    data = da.from_array(values, chunks=4) if lazy_data else values
    path = tmp_path / f"target{suffix}"
    showerdata.save_target(data, path, counts)
    points, num_points = dask.compute(*showerdata.load_target(path))
    assert points.dtype == np.float32
    assert num_points.dtype == np.int32
    np.testing.assert_array_equal(points, padded(values, counts))
    np.testing.assert_array_equal(num_points, counts)


def test_load_target_in_0_7_mode_gives_the_rows_asked_for_as_numpy(tmp_path):
    values = np.random.default_rng(4).normal(size=(N, P, 3)).astype(np.float32)
    counts = np.arange(N) % 6
    path = tmp_path / "target.h5"
    showerdata.save_target(values, path, counts)
    with dask.config.set({"showerdata.lazy": False}):
        points, num_points = showerdata.load_target(path, start=2, stop=7, max_points=5)
    assert type(points) is np.ndarray and type(num_points) is np.ndarray
    np.testing.assert_array_equal(points, padded(values, counts)[2:7, :5])
    np.testing.assert_array_equal(num_points, np.minimum(counts[2:7], 5))


def test_lazy_targets_are_written_a_few_chunks_at_a_time(tmp_path):
    # Out of core even when the counts are in memory: never one compute of it all.
    from dask.callbacks import Callback

    data = da.ones((60, 100, 3), chunks=5)
    computations = []
    with Callback(start=lambda graph: computations.append(len(graph))):
        showerdata.save_target(data, tmp_path / "target.h5", np.full(60, 7))
    assert len(computations) >= 2
    points, _ = dask.compute(*showerdata.load_target(tmp_path / "target.h5"))
    np.testing.assert_array_equal(points, padded(np.ones((60, 100, 3)), np.full(60, 7)))


# -- save ---------------------------------------------------------------------------


def test_save_names_what_it_was_given_instead_of_showers(tmp_path):
    with pytest.raises(TypeError) as raised:
        showerdata.save(np.zeros((2, 3, 4)), tmp_path / "out.h5")
    assert message(raised) == "save() takes Showers or IncidentParticles, not ndarray."


def test_showers_per_file_needs_a_pattern(tmp_path, showers):
    with pytest.raises(ValueError) as raised:
        showerdata.save(showers, tmp_path / "out.h5", showers_per_file=4)
    assert message(raised) == (
        "showers_per_file applies to an output pattern like 'out/part-{:05d}.h5'."
    )
    assert list(tmp_path.iterdir()) == []


def test_every_file_of_a_pattern_carries_the_attrs(tmp_path, showers):
    pattern = str(tmp_path / "part-{:02d}.h5")
    chunked = showers.chunk(4).assign_attrs(campaign="tb")
    showerdata.save(chunked, pattern, showers_per_file=4)
    parts = sorted(tmp_path.glob("part-*.h5"))
    assert len(parts) == 3
    for part in parts:
        assert showerdata.load_metadata(part)["campaign"] == "tb"


@pytest.mark.parametrize("progress", [True, False])
def test_save_shows_a_progress_bar_when_asked(tmp_path, showers, capsys, progress):
    options = {"progress": True} if progress else {}  # no bar by default
    showerdata.save(showers, tmp_path / "out.h5", **options)
    assert ("showers" in capsys.readouterr().err) is progress


# -- fields changed after construction are checked again by save -------------------


@pytest.mark.parametrize("field", ["points", "energies"])
def test_save_names_a_field_replaced_by_rows_of_unknown_count(tmp_path, field):
    lazy = toy_showers(N, max_points=P, num_features=F, seed=1).chunk(4)
    every_row = da.from_array(np.ones(N, dtype=bool), chunks=4)
    setattr(lazy, field, getattr(lazy, field)[every_row])
    target = tmp_path / "out.h5"
    with pytest.raises(ValueError) as raised:
        showerdata.save(lazy, target)
    assert message(raised) == (
        f"{field} has unknown chunk sizes; call .compute_chunk_sizes() first."
    )
    assert not target.exists()


@pytest.mark.parametrize(
    "replacement", [np.float32(1.0), np.ones((N, P))], ids=["0-d", "2-d"]
)
def test_save_refuses_points_replaced_by_another_shape(tmp_path, showers, replacement):
    showers.points = replacement
    with pytest.raises(ValueError) as raised:
        showerdata.save(showers, tmp_path / "out.h5")
    assert message(raised) == (
        "Points must be a 3D array with shape (num_showers, max_points, 4 or 5) "
        f"got {replacement.shape}"
    )
    assert list(tmp_path.iterdir()) == []


def test_save_names_particle_energies_replaced_by_a_number(tmp_path, showers):
    particles = showers.inc_particles
    particles.energies = np.float32(50.0)
    with pytest.raises(ValueError) as raised:
        showerdata.save(particles, tmp_path / "out.h5")
    assert message(raised) == "energies must have shape (0, 1), got ()."
    assert list(tmp_path.iterdir()) == []


def test_save_names_a_field_shortened_after_construction(tmp_path, showers):
    showers.pdg = showers.pdg[:-1]  # a field without a message of 0.7's
    with pytest.raises(ValueError) as raised:
        showerdata.save(showers, tmp_path / "out.h5")
    assert message(raised) == f"pdg must have shape ({N},), got ({N - 1},)."


def test_save_names_the_shower_whose_count_was_edited(tmp_path, showers):
    shower = int(np.flatnonzero(showers.num_points > 0)[2])
    showers.num_points[shower] -= 1  # one real point more than the count says
    target = tmp_path / "out.h5"
    with pytest.raises(ShowerDataError) as raised:
        showerdata.save(showers, target)
    assert message(raised) == (
        f"dataset 'points', shower {shower}: num_points disagrees with the number "
        "of points with e > 0"
    )
    assert not target.exists()


# -- load ---------------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["load", "load_inc_particles"])
@pytest.mark.parametrize("lazy", [True, False], ids=["lazy", "0.7 mode"])
def test_showers_and_particles_take_the_form_of_the_mode(
    tmp_path, showers, lazy, reader
):
    for i in range(2):
        showers[5 * i : 5 * i + 5].save(tmp_path / f"part-{i}.h5")
    one, production = tmp_path / "part-1.h5", str(tmp_path / "part-*.h5")
    with dask.config.set({"showerdata.lazy": lazy}):
        for path, rows in ((one, slice(5, 10)), (production, slice(0, N))):
            loaded = getattr(showerdata, reader)(path)
            assert loaded.is_lazy is lazy, path
            assert isinstance(loaded.energies, np.ndarray) is not lazy, path
            np.testing.assert_array_equal(
                np.asarray(loaded.energies), showers.energies[rows]
            )


@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
def test_metadata_are_the_attrs_saved_and_the_version(tmp_path, showers, suffix):
    path = tmp_path / f"attrs{suffix}"
    showerdata.save(showers.assign_attrs(run=3, tune="ILD"), path)
    assert showerdata.load_metadata(path) == {
        "run": 3,
        "tune": "ILD",
        "showerdata_version": showerdata.__version__,
    }


def test_metadata_of_hdf5_hide_no_attribute(tmp_path, showers):
    """Only zarr stores keep bookkeeping in their root attributes."""
    path = tmp_path / "attrs.h5"
    showerdata.save(showers, path)
    names = ("showerdata_format", "showerdata_layout_version", "showerdata_state")
    showerdata.add_metadata(path, dict.fromkeys(names, "the user's"))
    metadata = showerdata.load_metadata(path)
    assert {name: metadata.get(name) for name in names} == dict.fromkeys(
        names, "the user's"
    )


@pytest.mark.parametrize("function", ["load", "save"])
def test_storage_options_need_a_url(tmp_path, showers, function):
    path = tmp_path / "local.zarr"
    showers.save(path)
    call = {
        "load": lambda: showerdata.load(path, storage_options={"anon": True}),
        "save": lambda: showerdata.save(
            showers, path, overwrite=True, storage_options={"anon": True}
        ),
    }[function]
    with pytest.raises(ValueError) as raised:
        call()
    assert message(raised) == (
        f"storage_options apply to URLs of zarr stores (s3://...), not '{path}'."
    )
    assert showerdata.load(path).compute() == showers
