"""A catalogue of bad inputs: each gets one clear exception that says where it is.

Bad files are made from a good one with h5py, behind the library's back. Every
data defect is read in all the ways users read (compute, one shower, a lazy op,
a ShowerDataFile, a save of the lazy data) and must name the file, the dataset
and the shower; the other showers stay readable. Writes of bad data leave
nothing at a new destination and the previous file intact. Damaged bytes
(heaps, chunks, shards) are catalogued in test_corruption.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import dask.array as da
import h5py
import numpy as np
import pytest
from conftest import assert_showers_equal

import showerdata
from showerdata import MissingDataError, ShowerDataError, ShowerDataFile, Showers
from showerdata.toy import toy_showers

pytestmark = pytest.mark.timeout(60)

N, P, F = 24, 64, 5
BAD = 13  # the shower the data defects are put into


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> tuple[Path, Showers]:
    """A good file of toy showers with varied lengths (not all full)."""
    showers = toy_showers(
        N, max_points=P, num_features=F, seed=11, energy_range=(0.5, 4.0)
    ).compute()
    assert 0 < showers.num_points.min() < P  # padding and real points both exist
    path = tmp_path_factory.mktemp("good") / "good.h5"
    showerdata.save(showers, path)
    return path, showers


@pytest.fixture
def damaged(tmp_path: Path, good) -> Callable[[Callable[[h5py.File], None]], Path]:
    """``damaged(edit)``: path of a copy of the good file after ``edit(h5py_file)``."""

    def make(edit: Callable[[h5py.File], None]) -> Path:
        path = tmp_path / "damaged.h5"
        shutil.copy(good[0], path)
        with h5py.File(path, "r+") as file:
            edit(file)
        return path

    return make


def set_row(file: h5py.File, index: int, row: np.ndarray) -> None:
    """Replace one vlen row of ``showers`` (leaves num_points as it was)."""
    file["showers"][index] = np.asarray(row, dtype=np.float32)


def edit_point(index: int, point: int, column: int, value: float):
    """An edit setting one value of one stored point."""

    def edit(file: h5py.File) -> None:
        row = file["showers"][index].copy()
        row[point * F + column] = value
        set_row(file, index, row)

    return edit


def replace_dataset(name: str, value: np.ndarray):
    """An edit replacing a dataset by another one (other dtype or shape)."""

    def edit(file: h5py.File) -> None:
        del file[name]
        file.create_dataset(name, data=value)

    return edit


def assert_located(error: BaseException, path: Path, dataset: str, index: int | None):
    """The error carries and prints the file, the dataset and the shower."""
    assert isinstance(error, ShowerDataError)
    assert error.path == os.fspath(path)
    assert error.dataset == dataset
    assert error.index == index
    text = str(error)
    assert os.fspath(path) in text and f"'{dataset}'" in text
    if index is not None:
        assert f"shower {index}" in text


# -- files that are not shower files ---------------------------------------------------


def truncate(fraction: float):
    def make(path: Path) -> None:
        size = os.path.getsize(path)
        os.truncate(path, max(1, min(size - 1, int(size * fraction))))

    return make


def not_hdf5(path: Path) -> None:
    path.write_text("x, y, z, e\n1, 2, 3, 4\n" * 200)


def empty(path: Path) -> None:
    path.write_bytes(b"")


NOT_READABLE = {
    "truncated by one byte": truncate(1.0),
    "truncated to half": truncate(0.5),
    "truncated to the superblock": truncate(0.001),
    "text file": not_hdf5,
    "empty file (0 bytes)": empty,
}

READERS = {
    "load": lambda p: showerdata.load(p),
    "load_inc_particles": lambda p: showerdata.load_inc_particles(p),
    "get_file_shape": showerdata.get_file_shape,
    "load_metadata": showerdata.load_metadata,
    "ShowerDataFile": lambda p: ShowerDataFile(p),
}


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize("spoil", NOT_READABLE.values(), ids=NOT_READABLE.keys())
def test_unreadable_files_are_an_os_error_naming_the_file(
    tmp_path, good, spoil, reader
):
    path = tmp_path / "spoiled.h5"
    shutil.copy(good[0], path)
    spoil(path)
    with pytest.raises(OSError, match="not a readable HDF5 file") as error:
        reader(path)
    assert os.fspath(path) in str(error.value)


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_a_directory_is_not_a_shower_file(tmp_path, reader):
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        reader(tmp_path)


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_a_missing_file_is_a_file_not_found_error(tmp_path, reader):
    path = tmp_path / "nowhere.h5"
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        reader(path)


def test_an_hdf5_file_without_datasets_is_a_missing_data_error(tmp_path):
    path = tmp_path / "blank.h5"
    h5py.File(path, "w").close()
    with pytest.raises(MissingDataError) as error:
        showerdata.load(path)
    assert isinstance(error.value, KeyError) and isinstance(error.value, ValueError)
    # 0.7's text first: it looked for the rows ('showers') first.
    assert str(error.value).startswith("Key 'showers' not found in HDF5 file.")
    assert os.fspath(path) in str(error.value)
    with pytest.raises(ValueError, match="not a valid shower data file"):
        showerdata.get_file_shape(path)


# -- a layout that does not match the format ----------------------------------------


DATASETS = ("showers", "shape", "num_points", "energies", "directions", "pdg")


@pytest.mark.parametrize("name", [*DATASETS, "shower_ids"])
def test_a_missing_dataset_is_a_missing_data_error_naming_it(damaged, name):
    path = damaged(lambda file: file.__delitem__(name))
    with pytest.raises(MissingDataError) as error:
        showerdata.load(path)
    assert os.fspath(path) in str(error.value) and f"'{name}'" in str(error.value)


@pytest.mark.parametrize("name", DATASETS)
def test_a_group_where_a_dataset_belongs(damaged, name):
    def edit(file: h5py.File) -> None:
        del file[name]
        file.create_group(name)

    path = damaged(edit)
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(path)
    assert_located(error.value, path, name, None)


WRONG_LAYOUT = {
    "pdg as float": ("pdg", np.full(N, 22.5)),
    "num_points as float": ("num_points", np.full(N, 3.0)),
    "energies as strings": ("energies", np.full((N, 1), b"10 GeV")),
    "directions as integers": ("directions", np.zeros((N, 3), np.int32)),
    "shape as float": ("shape", np.array([N, P, F], np.float32)),
    "shape of 2 values": ("shape", np.array([N, P], np.int32)),
    "shape of 4 values": ("shape", np.array([N, P, F, 1], np.int32)),
    "showers as a padded float array": ("showers", np.zeros((N, P * F), np.float32)),
    "energies of shape (N, 2)": ("energies", np.ones((N, 2), np.float32)),
    "directions one row short": ("directions", np.ones((N - 1, 3), np.float32)),
    "shower_ids one row long": ("shower_ids", np.arange(N + 1, dtype=np.int32)),
    "pdg of shape (N, 2)": ("pdg", np.ones((N, 2), np.int32)),
    "num_points one row short": ("num_points", np.ones(N - 1, np.int32)),
}


@pytest.mark.parametrize(
    ("name", "value"), WRONG_LAYOUT.values(), ids=WRONG_LAYOUT.keys()
)
def test_wrong_dtypes_and_shapes_are_rejected_by_load(damaged, name, value):
    path = damaged(replace_dataset(name, value))
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(path)
    assert_located(error.value, path, name, None)


def test_shape_disagreeing_with_the_number_of_rows(damaged):
    path = damaged(replace_dataset("shape", np.array([N + 3, P, F], np.int32)))
    with pytest.raises(ShowerDataError, match="'shape' says 27 showers") as error:
        showerdata.load(path)
    assert_located(error.value, path, "showers", None)


def test_energies_length_disagreeing_with_shape(damaged):
    def edit(file: h5py.File) -> None:
        for name in ("energies", "directions", "pdg", "shower_ids"):
            values = file[name][:-2]
            del file[name]
            file.create_dataset(name, data=values)

    path = damaged(edit)
    with pytest.raises(ShowerDataError, match="'shape' says 24 showers") as error:
        showerdata.load(path)
    assert error.value.path == os.fspath(path)


def test_shape_with_the_wrong_number_of_features(damaged):
    path = damaged(replace_dataset("shape", np.array([N, P, 4], np.int32)))
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(path).compute()
    assert_located(error.value, path, "showers", 0)


@pytest.mark.parametrize("shape", [(N, P, 7), (N, P, 0), (N, -P, F)])
def test_shape_values_outside_the_format_are_rejected_by_load(damaged, shape):
    path = damaged(replace_dataset("shape", np.array(shape, np.int32)))
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(path)
    assert_located(error.value, path, "shape", None)


def test_showers_as_variable_length_strings_never_reach_numpy_as_text(damaged):
    # Strings of the wrong length are caught by the row-length check.
    rows = np.array(["1, 2, 3, 4, 5"] * N, dtype=h5py.string_dtype())
    path = damaged(replace_dataset("showers", rows))
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(path).compute()
    assert error.value.path == os.fspath(path) and error.value.dataset == "showers"


def test_showers_as_strings_of_a_plausible_length_are_rejected(damaged, good):
    lengths = good[1].num_points * F
    rows = np.array(["x" * n for n in lengths], dtype=h5py.string_dtype())
    path = damaged(replace_dataset("showers", rows))
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(path).compute()
    assert_located(error.value, path, "showers", None)


# -- bad showers inside a good layout -------------------------------------------------


def row_of(good, index: int) -> np.ndarray:
    path, showers = good
    return showers.points[index, : showers.num_points[index]].reshape(-1)


def drop_last_floats(good, count: int):
    return lambda file: set_row(file, BAD, row_of(good, BAD)[:-count])


def num_points_plus(delta: int):
    def edit(file: h5py.File) -> None:
        file["num_points"][BAD] = file["num_points"][BAD] + delta

    return edit


def negative_num_points(file: h5py.File) -> None:
    set_row(file, BAD, np.empty(0, np.float32))
    file["num_points"][BAD] = -1


DATA_DEFECTS = {
    "NaN in x": lambda good: edit_point(BAD, 0, 0, np.nan),
    "inf in z": lambda good: edit_point(BAD, 1, 2, np.inf),
    "-inf in t": lambda good: edit_point(BAD, 2, 4, -np.inf),
    "NaN in e": lambda good: edit_point(BAD, 2, 3, np.nan),
    "negative energy": lambda good: edit_point(BAD, 1, 3, -1e-3),
    "padding (e == 0) inside": lambda good: edit_point(BAD, 1, 3, 0.0),
    "padding (e == -0.0) inside": lambda good: edit_point(BAD, 1, 3, -0.0),
    "last point with e == 0": lambda good: edit_point(
        BAD, int(good[1].num_points[BAD]) - 1, 3, 0.0
    ),
    "row not a multiple of F": lambda good: drop_last_floats(good, 2),
    "row one point short of num_points": lambda good: drop_last_floats(good, F),
    "num_points one more than the row": lambda good: num_points_plus(1),
    "num_points one less than the row": lambda good: num_points_plus(-1),
    "negative num_points": lambda good: negative_num_points,
}

ACCESS = {
    "load().compute()": lambda p: showerdata.load(p, chunks=5).compute(),
    "load()[i]": lambda p: showerdata.load(p)[BAD].compute(),
    "load(start)[j]": lambda p: showerdata.load(p, BAD - 4)[4].compute(),
    "load()[mask]": lambda p: showerdata.load(p)[np.arange(N) % 2 == BAD % 2].compute(),
    "lazy filter+cluster": lambda p: showerdata.cluster(
        showerdata.filter_showers(showerdata.load(p, chunks=5), radius=300.0), seed=3
    ).compute(),
    "ShowerDataFile[i]": lambda p: ShowerDataFile(p)[BAD],
    "ShowerDataFile[:]": lambda p: ShowerDataFile(p)[:],
}


@pytest.mark.parametrize("access", ACCESS.values(), ids=ACCESS.keys())
@pytest.mark.parametrize("defect", DATA_DEFECTS.values(), ids=DATA_DEFECTS.keys())
def test_bad_showers_are_located_however_they_are_read(damaged, good, defect, access):
    path = damaged(defect(good))
    with pytest.raises(ShowerDataError) as error:
        access(path)
    assert_located(error.value, path, "showers", BAD)
    # The defect is confined to its shower: the others still read exactly.
    others = np.flatnonzero(np.arange(N) != BAD)
    assert_showers_equal(showerdata.load(path)[others].compute(), good[1][others])


@pytest.mark.parametrize("defect", DATA_DEFECTS.values(), ids=DATA_DEFECTS.keys())
def test_saving_lazy_data_read_from_a_bad_file_writes_nothing(
    tmp_path, damaged, good, defect
):
    path = damaged(defect(good))
    fresh, previous = tmp_path / "fresh.h5", tmp_path / "previous.h5"
    shutil.copy(good[0], previous)
    before = previous.read_bytes()
    for destination, overwrite in ((fresh, False), (previous, True)):
        with pytest.raises(ShowerDataError) as error:
            showerdata.save(showerdata.load(path, chunks=5), destination, overwrite)
        assert_located(error.value, path, "showers", BAD)
    assert not fresh.exists()
    assert previous.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.h5", "previous.h5"]


def test_num_points_beyond_p_in_the_file(damaged, good):
    def edit(file: h5py.File) -> None:
        # A self-consistent row of P + 1 points: only 'shape' says P.
        row = np.tile(np.array([1, 2, 3, 0.5, 1], np.float32), P + 1)
        set_row(file, BAD, row)
        file["num_points"][BAD] = P + 1

    path = damaged(edit)
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(path).compute()
    assert_located(error.value, path, "showers", BAD)


def test_max_points_truncation_is_what_the_user_asked_for(good):
    path, showers = good
    short = showerdata.load(path, max_points=5).compute()
    assert short.max_points == 5
    np.testing.assert_array_equal(short.num_points, np.minimum(showers.num_points, 5))
    np.testing.assert_array_equal(short.points, showers.points[:, :5])


# -- empty data is data ---------------------------------------------------------------


@pytest.mark.parametrize("lazy", [False, True], ids=["in memory", "lazy"])
def test_zero_showers_work_everywhere(tmp_path, lazy):
    none = toy_showers(0, max_points=P, num_features=F)
    none = none if lazy else none.compute()
    path = tmp_path / "none.h5"
    showerdata.save(none, path)
    assert showerdata.get_file_shape(path) == (0, P, F)
    assert showerdata.get_file_length(path) == 0
    loaded = showerdata.load(path)
    assert len(loaded) == 0 and loaded.is_empty
    assert_showers_equal(loaded.compute(), none.compute() if lazy else none)
    assert len(loaded[:].compute()) == 0
    assert len(loaded[np.zeros(0, bool)].compute()) == 0
    assert len(loaded[[]].compute()) == 0
    processed = showerdata.cluster(showerdata.filter_showers(loaded), seed=1)
    again = tmp_path / "again.h5"
    showerdata.save(processed, again)
    assert showerdata.load(again).compute().points.shape == (0, P, F)
    showerdata.create_empty_file(tmp_path / "batch.h5", (0, P, F))
    showerdata.save_batch(loaded, tmp_path / "batch.h5")
    with pytest.raises(
        IndexError, match=r"Index out of range\. \(shower index 0, 0 showers\)"
    ):
        loaded[0]
    with pytest.raises(IndexError):
        showerdata.load(path, 1)


@pytest.mark.parametrize("lazy", [False, True], ids=["in memory", "lazy"])
def test_p_zero_is_showers_without_points(tmp_path, lazy):
    # A physicist's reading: P = 0 holds showers that left no hits (all filtered
    # away); their incident particles are still data and must survive.
    empty_points = np.zeros((6, 0, F), np.float32)
    showers = Showers(empty_points, np.arange(1, 7, dtype=np.float32), 22)
    np.testing.assert_array_equal(showers.num_points, 0)
    data = showers.chunk(4) if lazy else showers
    path = tmp_path / "p0.h5"
    showerdata.save(data, path)
    assert showerdata.get_file_shape(path) == (6, 0, F)
    loaded = showerdata.load(path)
    assert_showers_equal(loaded.compute(), showers)
    assert_showers_equal(loaded[-2].compute(), showers[4])
    filtered = showerdata.filter_showers(loaded, radius=10.0).compute()
    assert_showers_equal(filtered, showers)
    assert showerdata.cluster(loaded, seed=1).compute().points.shape == (6, 0, F)


# -- bad indices ----------------------------------------------------------------------


BAD_INDICES = {
    "float": (1.5, TypeError),
    "numpy float": (np.float64(2.0), TypeError),
    "float array": (np.array([1.0, 2.0]), TypeError),
    "string": ("3", TypeError),
    "None": (None, TypeError),
    "object array": (np.array([1, "a"], dtype=object), TypeError),
    "2-D array": (np.array([[1, 2], [3, 4]]), ValueError),
    "2-D list": ([[1, 2]], ValueError),
    "two axes": ((1, 2), ValueError),
    "out of range": (N, IndexError),
    "negative out of range": (-N - 1, IndexError),
    "out of range in a list": ([1, N + 5], IndexError),
    "huge Python int": (2**70, IndexError),
    "uint64 that wraps to -1": (np.array([2**64 - 1], np.uint64), IndexError),
    "boolean scalar": (True, TypeError),
    "numpy boolean scalar": (np.bool_(False), TypeError),
    "mask too short": (np.ones(N - 1, bool), IndexError),
    "mask too long": (np.ones(N + 1, bool), IndexError),
    "booleans mixed with integers": ([True, 2], TypeError),
    "float slice bound": (slice(0.5, 3), TypeError),
    "zero slice step": (slice(0, 5, 0), ValueError),
}

FORMS = {
    "in memory": lambda path, showers: showers,
    "lazy": lambda path, showers: showers.chunk(5),
    "loaded": lambda path, showers: showerdata.load(path, chunks=5),
    "loaded and processed": lambda path, showers: showerdata.filter_showers(
        showerdata.load(path, chunks=5)
    ),
    "ShowerDataFile": lambda path, showers: ShowerDataFile(path),
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize(
    ("index", "error"), BAD_INDICES.values(), ids=BAD_INDICES.keys()
)
def test_bad_indices_raise_one_clear_error(good, form, index, error):
    data = form(*good)
    with pytest.raises(error):
        data[index]


@pytest.mark.parametrize(
    ("start", "stop", "error"),
    [
        (1.5, None, TypeError),
        (0, 2.0, TypeError),
        (N + 1, None, IndexError),
        (N + 1, N + 5, IndexError),
        (True, None, TypeError),
    ],
)
def test_bad_start_stop_of_load(good, start, stop, error):
    with pytest.raises(error):
        showerdata.load(good[0], start, stop)


# -- bad destinations -----------------------------------------------------------------


WRITERS = {
    "save": lambda s, p: showerdata.save(s, p),
    "save lazy": lambda s, p: showerdata.save(s.chunk(5), p),
    "create_empty_file": lambda s, p: showerdata.create_empty_file(p, (N, P, F)),
    "ShowerDataFile w": lambda s, p: ShowerDataFile(p, "w", shape=(N, P, F)),
    "Showers.save": lambda s, p: s.save(p),
}


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_writing_into_a_missing_directory(tmp_path, good, write):
    target = tmp_path / "missing" / "out.h5"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write(good[1], target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_writing_to_a_path_that_is_a_directory(tmp_path, good, write):
    (tmp_path / "inside.txt").write_text("keep me")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        write(good[1], tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["inside.txt"]


def test_save_batch_to_a_missing_file_or_a_directory(tmp_path, good):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        showerdata.save_batch(good[1], tmp_path / "missing.h5")
    with pytest.raises(IsADirectoryError):
        showerdata.save_batch(good[1], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_kept_without_overwrite(tmp_path, good):
    path = tmp_path / "kept.h5"
    shutil.copy(good[0], path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        showerdata.save(good[1][:3], path)
    assert path.read_bytes() == before


# -- bad data handed to the writers ---------------------------------------------------


def lazy_with_a_bad_shower(showers: Showers, index: int) -> Showers:
    points = showers.points.copy()
    points[index, 0, 3] = -1.0
    return Showers(
        da.from_array(points, chunks=(5, -1, -1)),
        showers.energies,
        showers.pdg,
        num_points=showers.num_points,
    )


def test_in_memory_bad_data_is_refused_when_built(good):
    points = good[1].points.copy()
    points[BAD, 2, 3] = np.nan
    with pytest.raises(ShowerDataError) as error:
        Showers(points, good[1].energies, 22)
    assert error.value.dataset == "points" and error.value.index == BAD


def test_saving_bad_lazy_data_writes_nothing_and_keeps_the_previous_file(
    tmp_path, good
):
    bad = lazy_with_a_bad_shower(good[1], 17)  # in the fourth of five chunks
    previous = tmp_path / "previous.h5"
    shutil.copy(good[0], previous)
    before = previous.read_bytes()
    with pytest.raises(ShowerDataError) as error:
        showerdata.save(bad, tmp_path / "fresh.h5")
    assert error.value.index == 17 and error.value.dataset == "points"
    with pytest.raises(ShowerDataError):
        showerdata.save(bad, previous, overwrite=True)
    with pytest.raises(ShowerDataError):
        with ShowerDataFile(tmp_path / "fresh.h5", "w", shape=(N, P, F)) as file:
            file[:] = bad
    assert previous.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["previous.h5"]


def test_save_batch_of_bad_lazy_data_keeps_rows_outside_the_batch(tmp_path, good):
    path = tmp_path / "batch.h5"
    showerdata.create_empty_file(path, (2 * N, P, F))
    showerdata.save_batch(good[1], path, N)
    with pytest.raises(ShowerDataError) as error:
        showerdata.save_batch(lazy_with_a_bad_shower(good[1], 17), path, 0)
    assert error.value.index == 17
    assert showerdata.get_file_shape(path) == (2 * N, P, F)
    assert_showers_equal(showerdata.load(path, N).compute(), good[1])


def test_reassigned_lazy_fields_keep_the_shared_chunking(tmp_path, good):
    # Fixed in bundle.py: a field reassigned with another chunking paired the
    # points of one range of showers with the energies of another on save.
    path, showers = good
    lazy = showerdata.load(path, chunks=7)
    lazy.energies = lazy.energies.rechunk(5)
    lazy.pdg = np.asarray(showers.pdg) + 1  # numpy into a lazy bundle
    assert lazy.energies.chunks[0] == lazy.pdg.chunks[0] == lazy.points.chunks[0]
    showerdata.save(lazy, tmp_path / "out.h5")
    again = showerdata.load(tmp_path / "out.h5").compute()
    np.testing.assert_array_equal(again.energies, showers.energies)
    np.testing.assert_array_equal(again.pdg, showers.pdg + 1)


def mutated(showers: Showers, how: str) -> Showers:
    """In-memory showers made invalid after they were built (numpy allows it)."""
    s = showers.copy()
    if how == "negative energy":
        s.points[BAD, 1, 3] = -1.0
    elif how == "NaN":
        s.points[BAD, 1, 0] = np.nan
    elif how == "num_points beyond P":
        s.num_points[BAD] = P + 5
    elif how == "num_points short (would drop points)":
        s.num_points[BAD] = 1
    elif how == "negative num_points":
        s.num_points[BAD] = -3
    elif how == "fields of different lengths":
        s.energies = s.energies[:5]
    return s


MUTATIONS = [
    "negative energy",
    "NaN",
    "num_points beyond P",
    "num_points short (would drop points)",
    "negative num_points",
    "fields of different lengths",
]


@pytest.mark.parametrize("how", MUTATIONS)
def test_saving_invalid_in_memory_data_writes_nothing(tmp_path, good, how):
    destination = tmp_path / "out.h5"
    with pytest.raises(ValueError):
        showerdata.save(mutated(good[1], how), destination)
    assert not destination.exists()


def test_save_batch_of_invalid_in_memory_data_leaves_the_file_readable(tmp_path, good):
    path = tmp_path / "batch.h5"
    showerdata.create_empty_file(path, (N, P, F))
    with pytest.raises(ValueError):
        showerdata.save_batch(mutated(good[1], "num_points beyond P"), path)
    showerdata.load(path).compute()
