"""The direct reader of vlen rows (io/heap_rows.py) against h5py's own reading.

Every file here is read both ways and must give the same padded block, bit for
bit: files written by us and by showerdata 0.7.0, rows rewritten in place (the
heap then holds freed objects and objects out of order), fancy selections and
truncation. Where the bytes are not what the references say, the direct reader
must step aside so h5py reads (or refuses) the rows.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import FIXTURES

import showerdata
from showerdata import ShowerDataError
from showerdata.io.hdf5.heap_rows import end_of_allocation, heap_rows
from showerdata.io.hdf5.read import read_selection
from showerdata.io.lazy import read_points_header
from showerdata.kernels.heap import COLLECTION_HEADER, REFERENCE_BYTES
from showerdata.ragged import pad_rows


def read_both(path, selection, max_points=None, features=None):
    """(direct block or None, h5py block) of the selected rows of ``path``."""
    with h5py.File(path, "r") as file:
        header = read_points_header(str(path), file=file)
        max_points = header.max_points if max_points is None else max_points
        features = header.num_features
        rows = read_selection(file, "showers", selection)
        expected = pad_rows(rows, max_points, features)
        direct = heap_rows(file, "showers")
        if direct is None:
            return None, expected
        block = np.zeros_like(expected)
        if not direct.gather(selection, features, block):
            return None, expected
        np.testing.assert_array_equal(direct.lengths(selection), [len(r) for r in rows])
        return block, expected


def assert_same(path, selection, max_points=None):
    block, expected = read_both(path, selection, max_points)
    assert block is not None, "the direct reader did not read this plain file"
    assert block.tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    "name", ["f4.h5", "f5.h5", "with_empty.h5", "batched.h5", "target.h5"]
)
def test_files_written_by_v07(name):
    path = FIXTURES / "v07" / name
    with h5py.File(path, "r") as file:
        count = len(file["showers"])
    assert_same(path, slice(0, count))
    assert_same(path, np.arange(count)[::-1].copy())


@pytest.mark.parametrize("name", ["with_empty.h5", "f5.h5"])
def test_a_reused_block_gets_its_padding_written(name):
    path = FIXTURES / "v07" / name
    with h5py.File(path, "r") as file:
        count = len(file["showers"])
        _, expected = read_both(path, slice(0, count))
        block = np.full_like(expected, 7.0)  # what an earlier piece left there
        assert heap_rows(file, "showers").gather(
            slice(0, count), expected.shape[2], block, zeroed=False
        )
    assert block.tobytes() == expected.tobytes()


@pytest.mark.parametrize("max_points", [1, 7, 40, 55])
def test_our_files_with_selections_and_truncation(tmp_path, make_showers, max_points):
    path = tmp_path / "s.h5"
    make_showers(300, max_points=40).save(path)
    assert_same(path, slice(0, 300), max_points)
    assert_same(path, slice(17, 290, 3), max_points)
    assert_same(path, np.array([299, 0, 5, 5, 150, 3]), max_points)


def test_rows_rewritten_in_place(tmp_path, make_showers):
    # Rewriting rows frees heap objects and allocates new ones elsewhere: the
    # references then point into collections out of order.
    path = tmp_path / "batched.h5"
    showerdata.create_empty_file(path, (200, 30, 4))
    for seed, (start, stop) in enumerate([(0, 200), (50, 120), (10, 60), (100, 200)]):
        part = make_showers(stop - start, max_points=30, num_features=4, seed=seed)
        showerdata.save_batch(part, path, start)
    assert_same(path, slice(0, 200))
    assert_same(path, np.random.default_rng(0).permutation(200))


def test_many_small_rows_in_shared_collections(tmp_path, make_showers):
    path = tmp_path / "small.h5"
    make_showers(5000, max_points=3).save(path)
    with h5py.File(path, "r") as file:
        refs = file["showers"].id.get_offset()
        assert refs is not None
    assert_same(path, slice(0, 5000))
    assert_same(path, np.random.default_rng(1).permutation(5000))


def test_load_uses_it_and_equals_h5py(tmp_path, make_showers):
    showers = make_showers(120, max_points=25)
    path = tmp_path / "s.h5"
    showers.save(path)
    with h5py.File(path, "r") as file:
        assert heap_rows(file, "showers") is not None
    loaded = showerdata.load(path, chunks=7)
    assert loaded.compute() == showers
    assert loaded[[3, 100, 3]].compute() == showers[[3, 100, 3]]


def test_chunked_or_compressed_datasets_are_left_to_h5py(tmp_path, make_showers):
    showers = make_showers(40, max_points=10)
    path = tmp_path / "s.h5"
    showers.save(path)
    with h5py.File(path, "a") as file:
        rows = file["showers"][...]
        del file["showers"]
        file.create_dataset(
            "showers",
            data=rows,
            dtype=h5py.vlen_dtype("float32"),
            chunks=(8,),
            compression="gzip",
        )
    with h5py.File(path, "r") as file:
        assert heap_rows(file, "showers") is None
    assert showerdata.load(path).compute() == showers


def first_collection(path) -> int:
    with h5py.File(path, "r") as file:
        offset = file["showers"].id.get_offset()
    with open(path, "rb") as handle:
        handle.seek(offset)
        reference = handle.read(REFERENCE_BYTES)
    return int.from_bytes(reference[4:12], "little")


def test_a_damaged_collection_is_not_guessed_at(tmp_path, make_showers):
    path = tmp_path / "s.h5"
    make_showers(50, max_points=10).save(path)
    damaged = tmp_path / "damaged.h5"
    shutil.copy(path, damaged)
    address = first_collection(damaged)
    with open(damaged, "r+b") as handle:
        handle.seek(address)
        handle.write(b"XXXX")  # the collection's signature
    block, _ = read_both(path, slice(0, 50))
    assert block is not None
    with h5py.File(damaged, "r") as file:
        direct = heap_rows(file, "showers")
        assert direct is not None
        out = np.zeros((50, 10, 5), np.float32)
        assert not direct.gather(slice(0, 50), 5, out)
    # h5py then reads the rows itself, and refuses the damaged heap: the rows
    # of the collection are named (tests/test_corruption.py has the catalogue).
    with pytest.raises(ShowerDataError, match="'showers', shower 0: showers 0 to "):
        showerdata.ShowerDataFile(damaged)[:]
    # The root attributes, written first, are strings in that collection too:
    # load() and load_metadata() name the file rather than raising HDF5's bare
    # OSError.
    for read in (showerdata.load, showerdata.load_metadata):
        with pytest.raises(ShowerDataError) as raised:
            read(damaged)
        assert f"file '{damaged}': cannot read the root attributes" in str(raised.value)


def test_an_object_of_another_size_is_not_guessed_at(tmp_path, make_showers):
    path = tmp_path / "s.h5"
    make_showers(20, max_points=10).save(path)
    address = first_collection(path)
    with open(path, "r+b") as handle:
        handle.seek(address + COLLECTION_HEADER + 8)  # size of the first object
        size = int.from_bytes(handle.read(8), "little")
        handle.seek(address + COLLECTION_HEADER + 8)
        handle.write((size + 8).to_bytes(8, "little"))
    with h5py.File(path, "r") as file:
        out = np.zeros((20, 10, 5), np.float32)
        assert not heap_rows(file, "showers").gather(slice(0, 20), 5, out)


FUZZ = """
import shutil, sys
import h5py
import numpy as np
from showerdata.io.hdf5.heap_rows import end_of_allocation, heap_rows

source, damaged, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
with h5py.File(source, "r") as file:
    dataset = file["showers"]
    references = dataset.id.get_offset()
    rows = len(dataset)
size = len(open(source, "rb").read())
read = 0
for trial in range(trials):
    shutil.copy(source, damaged)
    with open(damaged, "r+b") as handle:
        for _ in range(int(rng.integers(1, 20))):
            # Anywhere in the heap or the references, byte or 8-byte word.
            handle.seek(int(rng.integers(2048, size - 8)))
            handle.write(rng.bytes(int(rng.choice([1, 8]))))
    with h5py.File(damaged, "r") as file:
        direct = heap_rows(file, "showers")
        if direct is None:
            continue
        out = np.zeros((rows, 12, 5), np.float32)
        read += direct.gather(slice(0, rows), 5, out)
        picked = rng.integers(0, rows, 30)
        direct.gather(picked, 5, np.zeros((30, 12, 5), np.float32))
print("survived", trials, "read", read)
"""


def test_random_damage_never_crashes(tmp_path, make_showers):
    # Run in a child: a kernel reading out of bounds would kill the test runner.
    path = tmp_path / "s.h5"
    make_showers(400, max_points=12).save(path)
    child = subprocess.run(
        [sys.executable, "-c", FUZZ, str(path), str(tmp_path / "d.h5"), "300"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert "survived 300" in child.stdout


def test_heap_past_the_end_of_allocation_is_never_read(tmp_path, make_showers):
    # What a writer killed before closing leaves: a complete-looking collection
    # past the superblock's end of allocation, and a reference to it.
    path = tmp_path / "s.h5"
    make_showers(20, max_points=10).save(path)
    with h5py.File(path, "r") as file:
        offset = file["showers"].id.get_offset()
    data = np.fromfile(path, np.uint8)
    assert end_of_allocation(data) == len(data)
    address = first_collection(path)
    size = int.from_bytes(data[address + 8 : address + 16].tobytes(), "little")
    with open(path, "r+b") as handle:
        handle.seek(0, 2)
        moved = handle.tell()
        handle.write(data[address : address + size].tobytes())
        handle.seek(offset + 4)
        handle.write(moved.to_bytes(8, "little"))
    with h5py.File(path, "r") as file:
        out = np.zeros((20, 10, 5), np.float32)
        assert not heap_rows(file, "showers").gather(slice(0, 20), 5, out)
    with pytest.raises(ShowerDataError, match="'showers', shower 0: shower 0 cannot"):
        showerdata.load(path).compute()


def test_a_file_open_for_writing_is_read_through_h5py(tmp_path, make_showers):
    # Rows rewritten through an open handle may not be on disk yet: reading
    # the file's bytes would give the old rows.
    path = tmp_path / "s.h5"
    make_showers(30, max_points=25, seed=1).save(path)
    new = make_showers(30, max_points=25, seed=2)
    with showerdata.ShowerDataFile(path, "a") as file:
        file[0:30] = new
        assert heap_rows(file.file, "showers") is None
        assert file[0:30] == new


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 0.0, -0.5])
def test_gathering_screens_the_rows_it_copies(tmp_path, make_showers, value):
    showers = make_showers(30, max_points=40)
    row = int(np.argmax(showers.num_points > 3))
    points = showers.points.copy()
    column = 3 if value <= 0 else 1  # an energy, else a coordinate
    points[row, 2, column] = value
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as file:  # written raw: save would refuse it
        rows = file.create_dataset("showers", (30,), dtype=h5py.vlen_dtype(np.float32))
        for i in range(30):
            rows[i] = points[i, : showers.num_points[i]].reshape(-1)
    with h5py.File(path, "r") as file:
        block = np.zeros((30, 40, 5), np.float32)
        suspect = np.zeros(30, np.uint8)
        assert heap_rows(file, "showers").gather(slice(0, 30, 1), 5, block, suspect)
    assert np.flatnonzero(suspect).tolist() == [row]
    clean = np.zeros(30, np.uint8)
    with h5py.File(path, "r") as file:
        heap_rows(file, "showers").gather(slice(5, 30, 1), 5, block[5:], clean[5:])
    assert clean.sum() == (row >= 5)


def _mapped_rss_bytes(path) -> int:
    """Resident bytes of this process's mappings of ``path`` (Linux smaps)."""
    resident, in_mapping = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if fields and "-" in fields[0] and len(fields[0]) > 8:  # a mapping
                in_mapping = len(fields) >= 6 and fields[-1] == str(path)
            elif in_mapping and fields[0] == "Rss:":
                resident += int(fields[1]) * 1024
    return resident


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/smaps")
def test_pages_read_are_unmapped_a_few_mib_at_a_time(tmp_path):
    from showerdata.io.hdf5.heap_rows import RELEASE_BYTES

    rng = np.random.default_rng(3)
    points = rng.uniform(0.1, 1.0, (1800, 1000, 4)).astype(np.float32)  # 29 MB
    showers = showerdata.Showers(points=points, energies=np.ones((1800, 1)), pdg=22)
    path = (tmp_path / "s.h5").resolve()
    showers.save(path)
    assert path.stat().st_size > 3 * RELEASE_BYTES  # more than is ever kept
    with h5py.File(path, "r") as file:
        direct = heap_rows(file, "showers")
        block = np.zeros((50, 1000, 4), np.float32)
        resident = []
        for start in range(0, 1800, 50):  # in pieces, as a save to zarr reads
            assert direct.gather(slice(start, start + 50, 1), 4, block)
            assert block.tobytes() == points[start : start + 50].tobytes()
            resident.append(_mapped_rss_bytes(path))
    # Pages stay mapped between releases, then go: never much past the batch.
    assert max(resident) > block.nbytes
    assert max(resident) <= RELEASE_BYTES + 2 * block.nbytes, resident
