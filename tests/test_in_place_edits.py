"""An edit of a lazy field means the same on every path that reads the showers.

dask arrays take item assignment (``s.energies[0, 0] = 99``): the array keeps
its identity but gets a new graph. Showers read from a file also know their
stored rows and read them directly for indexing and ``compute``; these tests
check that every path sees the edit (and a reassigned field), and that the
unedited showers still give the file's values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import showerdata
from showerdata import ShowerDataError, Showers, concatenate, filter_showers
from showerdata.toy import toy_arrays

N = 12
P = 20
CHUNK = 4  # three chunks: the edits sit in the first and the second
MASK = np.isin(np.arange(N), [0, 5, 7])


def edit_items(s: Showers) -> None:
    s.energies[0, 0] = 99.0
    s.points[5, 0, 3] = 2.5  # a real point (see the fixture): stays valid


def reassign_fields(s: Showers) -> None:
    s.points = s.points[:, :, :4]
    s.energies = s.energies * 2


EDITS: dict[str, Callable[[Showers], None]] = {
    "unedited": lambda s: None,
    "item-assignment": edit_items,
    "reassignment": reassign_fields,
}


def _save_and_load(s: Showers, path: Path) -> Showers:
    s.save(path)
    return showerdata.load(path).compute()


def _assign_to_file(s: Showers, path: Path) -> Showers:
    showerdata.create_empty_file(path, s.points.shape)
    with showerdata.ShowerDataFile(path, "a") as file:
        file[:] = s
    return showerdata.load(path).compute()


# Each path takes showers (lazy, or the in-memory reference) and a scratch
# directory and gives in-memory showers.
PATHS: dict[str, Callable[[Showers, Path], Showers]] = {
    "int": lambda s, d: s[0].compute(),
    "slice": lambda s, d: s[:3].compute(),
    "step-slice": lambda s, d: s[1::4].compute(),
    "array": lambda s, d: s[np.array([5, 0])].compute(),
    "bool-mask": lambda s, d: s[MASK].compute(),
    "compute": lambda s, d: s.compute(),
    "persist": lambda s, d: s.persist().compute(),
    "copy": lambda s, d: s.copy().compute(),
    "save-hdf5": lambda s, d: _save_and_load(s, d / "out.h5"),
    "save-zarr": lambda s, d: _save_and_load(s, d / "out.zarr"),
    "showerdatafile-assignment": lambda s, d: _assign_to_file(s, d / "assigned.h5"),
    "filter_showers": lambda s, d: filter_showers(s, ecal_threshold=0.01).compute(),
    "concatenate": lambda s, d: concatenate([s, s[:2]]).compute(),
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    data = toy_arrays(0, N, seed=3, max_points=P, num_features=5)
    assert data["num_points"][5] > 0  # edit_items changes a real point
    path = tmp_path_factory.mktemp("edits") / "showers.h5"
    showerdata.save(Showers(**data), path)
    return path, data


def assert_same(actual: Showers, expected: Showers) -> None:
    assert not actual.is_lazy
    for name in Showers.FIELDS:
        a, e = getattr(actual, name), getattr(expected, name)
        assert a.dtype == e.dtype, name
        np.testing.assert_array_equal(a, e, err_msg=name)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("edit", EDITS)
def test_every_path_reads_the_edited_values(stored, tmp_path, edit, path) -> None:
    file, data = stored
    showers = showerdata.load(file, chunks=CHUNK)
    reference = Showers(**data, copy=True)
    EDITS[edit](showers)
    EDITS[edit](reference)
    (tmp_path / "lazy").mkdir()
    (tmp_path / "reference").mkdir()

    actual = PATHS[path](showers, tmp_path / "lazy")
    expected = PATHS[path](reference, tmp_path / "reference")
    assert_same(actual, expected)
    if edit == "unedited":  # and the reference is the file
        assert_same(expected, PATHS[path](Showers(**data), tmp_path))


@pytest.mark.parametrize("edit", ["item-assignment", "reassignment"])
def test_an_edit_ends_reading_the_stored_rows(stored, edit) -> None:
    file, data = stored
    showers = showerdata.load(file, chunks=CHUNK)
    assert showers._source is not None and showers[0]._source is not None
    EDITS[edit](showers)
    # Indexing and compute now go through the fields' graphs.
    assert showers._source is None
    assert showers[0]._source is None
    assert showers.copy()._source is None


def test_an_edit_of_the_particles_is_honoured(stored) -> None:
    file, data = stored
    particles = showerdata.load_inc_particles(file)
    particles.pdg[1] = 211
    assert particles[:2].compute().pdg.tolist() == [data["pdg"][0], 211]
    assert particles.compute().pdg[1] == 211


def test_an_edit_of_a_copy_leaves_the_original(stored) -> None:
    file, data = stored
    showers = showerdata.load(file, chunks=CHUNK)
    copy = showers.copy()
    assert copy._source is not None  # an unedited copy still reads the rows
    copy.energies[0, 0] = 99.0
    assert copy[0].compute().energies[0, 0] == 99.0
    assert showers[0].compute().energies[0, 0] == data["energies"][0, 0]
    assert showers._source is not None


def test_an_edit_of_lazy_showers_made_in_memory(stored) -> None:
    _, data = stored
    showers = Showers(**data).chunk(CHUNK)
    showers.energies[0, 0] = 99.0
    assert showers[:3].compute().energies[0, 0] == 99.0
    assert showers.compute().energies[0, 0] == 99.0


def negative_energy(s: Showers) -> None:
    s.points[5, 0, 3] = -1.0


def fewer_points(s: Showers) -> None:
    s.num_points[5] = 0  # its points stay: padding would be in the shower


BREAKING_EDITS = {"negative-energy": negative_energy, "fewer-points": fewer_points}
# Every path that reaches shower 5.
REFUSING_PATHS = [name for name in PATHS if name not in ("int", "slice", "copy")]


@pytest.mark.parametrize("path", REFUSING_PATHS)
@pytest.mark.parametrize("edit", BREAKING_EDITS)
def test_an_edit_that_breaks_a_shower_is_refused(stored, tmp_path, edit, path) -> None:
    file, data = stored
    reference = Showers(**data, copy=True)
    BREAKING_EDITS[edit](reference)
    with pytest.raises(ShowerDataError) as raised:
        reference.save(tmp_path / "reference.h5")  # as numpy edits are
    assert "dataset 'points', shower 5: " in str(raised.value)

    showers = showerdata.load(file, chunks=CHUNK)
    BREAKING_EDITS[edit](showers)
    with pytest.raises(ShowerDataError, match="shower 5"):
        PATHS[path](showers, tmp_path)
    assert not list(tmp_path.glob("out.*"))


def test_unedited_points_are_not_checked_again(stored) -> None:
    file, _ = stored
    showers = showerdata.load(file, chunks=CHUNK)
    filtered = filter_showers(showers, ecal_threshold=0.01)
    for unedited in (showers, filtered, showers.copy(), showers[2:7]):
        assert unedited._fields()["points"] is unedited.points
    showers.energies[0, 0] = 99.0  # not the points: nothing to check
    assert showers._fields()["points"] is showers.points
    showers.points[0, 0, 0] = 1.0
    assert showers._fields()["points"] is not showers.points
