"""Reading and writing the HDF5 layout: laziness, streaming, errors, atomicity."""

from __future__ import annotations

import os
import pickle

import dask
import dask.array as da
import h5py
import numpy as np
import pytest
from conftest import assert_showers_equal

import showerdata
from showerdata import ShowerDataError, ShowerDataFile
from showerdata.io.hdf5 import read as hdf5_read

#: Every test here runs with each HDF5 row reader.
pytestmark = pytest.mark.usefixtures("hdf5_reader")


@pytest.fixture
def stored(tmp_path, make_showers):
    """(path, in-memory showers) of a small saved production."""
    showers = make_showers(n=37, max_points=25, num_features=5)
    path = tmp_path / "showers.h5"
    showerdata.save(showers, path)
    return path, showers


def corrupt(path, name, row, values):
    """Overwrite one row of a dataset behind the library's back."""
    with h5py.File(path, "r+") as file:
        file[name][row] = np.asarray(values, dtype=file[name].dtype.base)
        if h5py.check_vlen_dtype(file[name].dtype) is not None:
            file[name][row] = np.asarray(values, dtype=np.float32)


# -- laziness -------------------------------------------------------------------------


def test_load_is_lazy_and_reads_no_rows(stored):
    path, showers = stored
    corrupt(path, "showers", 30, np.ones(7, np.float32))  # 7 floats: not whole points
    lazy = showerdata.load(path, chunks=10)  # must not touch the rows
    assert lazy.is_lazy and lazy.chunks == (10, 10, 10, 7)
    assert_showers_equal(lazy[:30].compute(), showers[:30])
    with pytest.raises(ShowerDataError) as error:
        lazy.compute()
    assert error.value.index == 30
    assert error.value.dataset == "showers"
    assert error.value.path == os.fspath(path)


@pytest.mark.parametrize(
    ("start", "stop"), [(0, None), (5, 20), (-10, None), (3, -3), (36, 37), (10, 10)]
)
def test_load_start_stop(stored, start, stop):
    path, showers = stored
    expected = showers[slice(start, stop)]
    assert_showers_equal(
        showerdata.load(path, start, stop, chunks=4).compute(), expected
    )


def test_a_start_past_the_end_raises(stored):
    path, _ = stored
    with pytest.raises(IndexError, match="start=38 is past the end of its 37"):
        showerdata.load(path, 38)


@pytest.mark.parametrize(
    ("start", "stop", "rows"),
    [
        (0, 38, slice(0, 37)),
        (-38, None, slice(0, 37)),
        (30, 1000, slice(30, 37)),
        (37, None, slice(37, 37)),
        (5, 2, slice(5, 5)),
    ],
)
def test_start_and_stop_clip_as_python_slices_do(stored, start, stop, rows):
    # As in 0.7, which sliced the datasets: a stop past the end caps the sample.
    path, showers = stored
    assert_showers_equal(showerdata.load(path, start, stop).compute(), showers[rows])


def test_max_points_truncates_and_clips_num_points(stored):
    path, showers = stored
    short = showerdata.load(path, max_points=6).compute()
    assert short.points.shape == (37, 6, 5)
    np.testing.assert_array_equal(short.points, showers.points[:, :6])
    np.testing.assert_array_equal(short.num_points, np.minimum(showers.num_points, 6))
    longer = showerdata.load(path, max_points=30).compute()
    assert longer.points.shape == (37, 30, 5)
    np.testing.assert_array_equal(longer.points[:, :25], showers.points)
    assert not longer.points[:, 25:].any()


def test_selection_is_pushed_down_to_the_reader(stored):
    path, showers = stored
    lazy = showerdata.load(path, chunks=10)
    one = lazy[23]
    assert one.chunks == (1,)  # a graph over one row, not a slice of a chunk
    (task,) = [v for k, v in dict(one.points.__dask_graph__()).items()]
    assert_showers_equal(one.compute(), showers[23])
    picked = lazy[[30, 2, 2, 17]][1:3]
    assert_showers_equal(picked.compute(), showers[[2, 2]])
    assert_showers_equal(lazy[::-3][2:5].compute(), showers[::-3][2:5])


def test_graphs_pickle_and_run_in_other_processes(stored):
    path, showers = stored
    lazy = showerdata.load(path, chunks=9)
    graph = pickle.loads(pickle.dumps(dict(lazy.points.__dask_graph__())))
    assert len(graph) == 5
    computed = lazy.compute(scheduler="processes", num_workers=2)
    assert_showers_equal(computed, showers)


def test_handle_cache_sees_a_replaced_file(tmp_path, make_showers):
    path = tmp_path / "a.h5"
    first, second = make_showers(n=5, seed=1), make_showers(n=5, seed=2)
    showerdata.save(first, path)
    assert_showers_equal(showerdata.load(path).compute(), first)
    showerdata.save(second, path, overwrite=True)
    assert_showers_equal(showerdata.load(path).compute(), second)


# -- writing --------------------------------------------------------------------------


@pytest.mark.parametrize("scheduler", ["threads", "sync", "processes"])
def test_save_lazy_streams_chunks_and_equals_in_memory(tmp_path, stored, scheduler):
    path, showers = stored
    lazy = showerdata.load(path, chunks=4)
    with dask.config.set(scheduler=scheduler, **{"showerdata.chunks-in-flight": 2}):
        showerdata.save(lazy, tmp_path / "copy.h5")
    assert_showers_equal(showerdata.load(tmp_path / "copy.h5").compute(), showers)


def test_save_refuses_to_overwrite_before_any_work(tmp_path, stored):
    path, showers = stored
    before = path.read_bytes()
    failing = showerdata.Showers(
        da.zeros((3, 4, 5), chunks=1, dtype=np.float32) - 1, np.ones(3), 22
    )
    with pytest.raises(FileExistsError):
        showerdata.save(failing, path)
    with pytest.raises(FileExistsError):
        showers.save(path)
    assert path.read_bytes() == before


def test_failed_save_keeps_previous_file_and_leaves_no_partial(tmp_path, stored):
    path, showers = stored
    points = showers.points.copy()
    points[33, 0, 3] = -1.0  # negative energy in the last chunk
    bad = showerdata.Showers(
        da.from_array(points, chunks=(8, 25, 5)),
        showers.energies,
        showers.pdg,
        num_points=showers.num_points,
    )
    with pytest.raises(ShowerDataError, match="shower 33: negative point energy"):
        showerdata.save(bad, path, overwrite=True)
    assert_showers_equal(showerdata.load(path).compute(), showers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["showers.h5"]


def test_save_into_missing_directory_or_directory_path(tmp_path, make_showers):
    showers = make_showers(n=2)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        showerdata.save(showers, tmp_path / "nope" / "x.h5")
    with pytest.raises(IsADirectoryError):
        showerdata.save(showers, tmp_path, overwrite=True)


def test_save_batch_fills_a_file_in_pieces(tmp_path, make_showers):
    showers = make_showers(n=30, max_points=12, num_features=4)
    path = tmp_path / "batched.h5"
    showerdata.create_empty_file(path, shape=(30, 12, 4))
    showerdata.save_batch(showers[10:].chunk(7), path, start=10)
    showerdata.save_batch(showers[:10], path)
    assert_showers_equal(showerdata.load(path).compute(), showers)


def test_save_batch_errors(tmp_path, make_showers):
    showers = make_showers(n=10, max_points=12, num_features=4)
    path = tmp_path / "batched.h5"
    showerdata.create_empty_file(path, shape=(10, 12, 4))
    with pytest.raises(IndexError, match="exceeds file shape 10"):
        showerdata.save_batch(showers, path, start=1)
    with pytest.raises(IndexError):
        showerdata.save_batch(showers[:2], path, start=-1)
    wrong = make_showers(n=2, max_points=13, num_features=4)
    with pytest.raises(ValueError, match="Shape mismatch"):
        showerdata.save_batch(wrong, path)
    with pytest.raises(FileExistsError):
        showerdata.create_empty_file(path, (10, 12, 4), overwrite=False)


def test_save_batch_rerun_resets_the_rows_a_killed_writer_left_unreadable(
    tmp_path, make_showers
):
    # What a SIGKILLed save_batch can leave: the rows' vlen references on disk,
    # their global heap collections past the superblock's end of allocation.
    showers = make_showers(n=30, max_points=12, num_features=4)
    path = tmp_path / "batched.h5"
    showerdata.create_empty_file(path, shape=(30, 12, 4))
    showerdata.save_batch(showers[:10], path)
    before = path.read_bytes()
    showerdata.save_batch(showers[10:20], path, start=10)
    with h5py.File(path) as file:  # rows 10... as 16-byte references
        first, last = file["showers"].id.get_offset() + 16 * np.array([10, 20])
    after = path.read_bytes()
    path.write_bytes(before[:first] + after[first:last] + before[last:])

    def unreadable() -> list[int]:
        with h5py.File(path) as file:
            return hdf5_read.unreadable_rows(file["showers"], 0, 30, block=7)

    assert unreadable() == [r for r in range(10, 20) if showers.num_points[r]]
    showerdata.save_batch(showers[10:15], path, start=10)  # leaves rows 15... alone
    assert unreadable() == [r for r in range(15, 20) if showers.num_points[r]]
    showerdata.save_batch(showers[15:], path, start=15)
    assert_showers_equal(showerdata.load(path).compute(), showers)


def test_incident_particles_round_trip(tmp_path, make_showers):
    showers = make_showers(n=9)
    path = tmp_path / "inc.h5"
    showers.inc_particles.save(path)
    loaded = showerdata.load_inc_particles(path, 2, 7)
    assert loaded.is_lazy
    assert loaded.compute() == showers.inc_particles[2:7]
    assert showerdata.get_file_length(path) == 9
    with pytest.raises(ValueError, match="not a valid shower data file"):
        showerdata.get_file_shape(path)
    with pytest.raises(KeyError, match="Key 'showers' not found"):
        showerdata.load(path)


# -- ShowerDataFile -------------------------------------------------------------------


def test_showerdatafile_read_and_write(tmp_path, make_showers):
    showers = make_showers(n=20, max_points=10, num_features=5)
    path = tmp_path / "file.h5"
    with ShowerDataFile(path, "w", shape=(20, 10, 5)) as file:
        assert not path.exists()  # appears only when complete
        file[0:8] = showers[:8]
        file[8:20] = showers[8:].chunk(5)
        assert_showers_equal(file[3], showers[3])
    with ShowerDataFile(path) as file:
        assert file.shape == (20, 10, 5) and file.num_showers == len(file) == 20
        assert_showers_equal(file[-1], showers[19])
        assert_showers_equal(file[[4, 1, 4]], showers[[4, 1, 4]])
        assert [s.shower_ids[0] for s in file][:3] == [0, 1, 2]
        with pytest.raises(ValueError, match="not open for writing"):
            file[0] = showers[0]
        with pytest.raises(IndexError):
            file[20]
    with ShowerDataFile(path, "a") as file:
        file[[2, 5]] = showers[[5, 2]]
        with pytest.raises(ValueError, match="cannot assign 3 showers to 2 rows"):
            file[0:2] = showers[:3]
    assert_showers_equal(showerdata.load(path)[[2, 5]].compute(), showers[[5, 2]])


def test_showerdatafile_w_discards_on_error_and_keeps_previous(tmp_path, stored):
    path, showers = stored
    with pytest.raises(RuntimeError), ShowerDataFile(path, "w", shape=(3, 25, 5)) as f:
        f[0:3] = showers[:3]
        raise RuntimeError("job died")
    assert_showers_equal(showerdata.load(path).compute(), showers)
    assert sorted(p.name for p in path.parent.iterdir()) == ["showers.h5"]
    with pytest.raises(FileNotFoundError):
        ShowerDataFile(path.parent / "missing.h5", "a")
    with pytest.raises(ValueError, match="Shape must be specified"):
        ShowerDataFile(path, "w")


# -- targets and metadata -------------------------------------------------------------


def test_targets(tmp_path, stored):
    path, showers = stored
    rng = np.random.default_rng(0)
    latent = rng.random((37, 25, 3), dtype=np.float32)
    showerdata.save_target(latent, path)  # num_points from the showers
    points, num_points = showerdata.load_target(path)
    np.testing.assert_array_equal(num_points.compute(), showers.num_points)
    expected = latent * (
        np.arange(25)[None, :, None] < showers.num_points[:, None, None]
    )
    np.testing.assert_array_equal(points.compute(), expected)
    with pytest.raises(FileExistsError):
        showerdata.save_target(latent, path)
    showerdata.save_target(da.from_array(latent, chunks=10), path, overwrite=True)
    np.testing.assert_array_equal(showerdata.load_target(path)[0].compute(), expected)

    showerdata.add_target_dataset(path, (37, 4, 2), key="small")
    showerdata.add_target_dataset(path, (37, 4, 2), key="small", exists_ok=True)
    with pytest.raises(FileExistsError):
        showerdata.add_target_dataset(path, (37, 4, 2), key="small")
    small = rng.random((10, 4, 2), dtype=np.float32)
    counts = np.array([0, 1, 2, 3, 4, 4, 3, 2, 1, 0], np.int32)
    showerdata.save_target_batch(small, path, num_points=counts, start=27, key="small")
    points, num_points = showerdata.load_target(path, "small", start=27)
    np.testing.assert_array_equal(num_points.compute(), counts)
    np.testing.assert_array_equal(points.compute()[3, :3], small[3, :3])
    assert not points.compute()[3, 3:].any()  # beyond num_points is padding
    with pytest.raises(ValueError, match="cannot exceed"):
        showerdata.save_target_batch(small, path, num_points=counts + 1, key="small")
    with pytest.raises(KeyError, match="'nope' not found"):
        showerdata.save_target_batch(small, path, num_points=counts, key="nope")


def test_metadata(stored):
    path, _ = stored
    showerdata.add_metadata(path, {"generator": "toy", "seed": 7, "clustered": True})
    metadata = showerdata.load_metadata(path)
    assert metadata["generator"] == "toy" and metadata["seed"] == 7
    assert metadata["showerdata_version"] == showerdata.__version__
    with pytest.raises(TypeError, match="must be str, int, float or bool"):
        showerdata.add_metadata(path, {"bad": {"nested": 1}})


# -- bad files -------------------------------------------------------------------------


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        showerdata.load(tmp_path / "missing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(OSError, match="notes.h5.*not a readable HDF5 file"):
        showerdata.load(text)
    # A directory is a production of the shower files in it: here one foreign file.
    with pytest.raises(OSError, match="notes.h5.*not a readable HDF5 file"):
        showerdata.load(tmp_path)
    text.unlink()
    with pytest.raises(IsADirectoryError, match="holding no shower files"):
        showerdata.load(tmp_path)


@pytest.mark.parametrize(
    ("dataset", "value", "message"),
    [
        ("pdg", np.zeros(37, np.float32), "dataset 'pdg': has dtype float32"),
        ("energies", np.zeros((37, 2), np.float32), r"dataset 'energies': has shape"),
        ("num_points", np.zeros(36, np.int32), r"dataset 'num_points': has shape"),
    ],
)
def test_wrong_dtypes_and_shapes_name_the_dataset(stored, dataset, value, message):
    path, _ = stored
    with h5py.File(path, "r+") as file:
        del file[dataset]
        file[dataset] = value
    with pytest.raises(ShowerDataError, match=message):
        showerdata.load(path)


def test_missing_dataset_is_a_key_error_naming_it(stored):
    path, _ = stored
    with h5py.File(path, "r+") as file:
        del file["directions"]
    with pytest.raises(KeyError, match="dataset 'directions' not found"):
        showerdata.load(path)


@pytest.mark.parametrize(
    ("row", "values", "message"),
    [
        (12, [1, 2, 0, -0.5, 0], "shower 12: negative point energy"),
        (3, [1, 2, 0, 0, 0, 1, 2, 0, 0.5, 0], "shower 3: padding"),
        (7, [1, 2, 0, np.nan, 0], "shower 7: point coordinates or energies are NaN"),
    ],
)
def test_bad_rows_are_reported_with_file_dataset_and_index(
    stored, row, values, message
):
    path, _ = stored
    corrupt(path, "showers", row, values)
    corrupt(path, "num_points", row, len(values) // 5)
    lazy = showerdata.load(path, chunks=5)
    with pytest.raises(ShowerDataError, match=message) as error:
        lazy.compute()
    assert "showers.h5" in str(error.value) and "dataset 'showers'" in str(error.value)
    with pytest.raises(ShowerDataError, match=message), ShowerDataFile(path) as file:
        file[row]


def test_num_points_disagreeing_with_row_length(stored):
    path, _ = stored
    corrupt(path, "num_points", 20, 3)
    with pytest.raises(ShowerDataError, match="shower 20: row holds"):
        showerdata.load(path)[18:22].compute()


def test_vlen_rows_written_in_pieces_read_back_whole(tmp_path):
    from showerdata.io.hdf5.write import ROWS_PER_WRITE, write_vlen_rows

    count = 2 * ROWS_PER_WRITE + 7  # two whole pieces and a short one
    rng = np.random.default_rng(3)
    rows = np.empty(count, dtype=object)
    for i in range(count):
        rows[i] = rng.random(int(rng.integers(0, 12)) * 5).astype(np.float32)
    with h5py.File(tmp_path / "rows.h5", "w") as file:
        dataset = file.create_dataset(
            "rows", shape=(count + 9,), dtype=h5py.vlen_dtype(np.float32)
        )
        write_vlen_rows(dataset, 5, rows)
    with h5py.File(tmp_path / "rows.h5", "r") as file:
        stored = file["rows"][...]
    assert all(len(stored[i]) == 0 for i in [*range(5), *range(count + 5, count + 9)])
    for i in range(count):
        np.testing.assert_array_equal(stored[5 + i], rows[i])
