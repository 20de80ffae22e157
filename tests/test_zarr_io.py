"""The zarr mirror: layout, parallel writes, resume, conversion, errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import fsspec
import h5py
import numpy as np
import pytest
import zarr
from conftest import FIXTURES, assert_showers_equal, can_exchange_in

import showerdata
from showerdata import ShowerDataError, ShowerDataFile
from showerdata.io.zarr.store import CHUNKS_WRITTEN, FORMAT_ATTRIBUTE
from showerdata.toy import toy_showers

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def stored(tmp_path, make_showers):
    """(path, in-memory showers) of a small zarr store in chunks of 10."""
    showers = make_showers(n=37, max_points=25, num_features=5)
    path = tmp_path / "showers.zarr"
    showerdata.save(showers.chunk(10), path)
    return path, showers


# -- layout ---------------------------------------------------------------------------


def test_layout_mirrors_hdf5_names_dense_padded_and_compressed(stored):
    path, showers = stored
    group = zarr.open_group(path, mode="r")
    assert group.metadata.zarr_format == 3
    assert group.attrs[FORMAT_ATTRIBUTE] == "showerdata-zarr"
    assert group.attrs["showerdata_layout_version"] == 2
    assert group.attrs["showerdata_state"] == "complete"
    assert group["showers"].shape == (37, 25, 5)
    assert group["showers"].dtype == np.float32
    np.testing.assert_array_equal(group["showers"][:], showers.points)
    np.testing.assert_array_equal(group["shape"][:], [37, 25, 5])
    # One shard of showers per chunk of 10, inner chunks of a whole number of
    # showers that divide it; the per-shower arrays chunked alike.
    assert group["showers"].shards == (10, 25, 5)
    assert 10 % group["showers"].chunks[0] == 0
    for name in ("num_points", "energies", "directions", "pdg"):
        assert group[name].chunks[0] == 10, name
    codec = group["showers"].compressors[0].to_dict()["configuration"]
    assert codec["cname"] == "lz4" and codec["shuffle"] == "shuffle"
    assert group[CHUNKS_WRITTEN][:].tolist() == [1, 1, 1, 1]


def test_lazy_load_equals_hdf5_and_indexing_reads_one_chunk(stored, tmp_path):
    path, showers = stored
    showerdata.save(showers, tmp_path / "same.h5")
    lazy = showerdata.load(path)
    assert lazy.is_lazy and lazy.points.chunks[0] == (10, 10, 10, 7)
    assert_showers_equal(
        lazy.compute(), showerdata.load(tmp_path / "same.h5").compute()
    )
    one = lazy[23]
    assert len(dict(one.points.dask)) == 1
    assert_showers_equal(one.compute(), showers[23])
    assert_showers_equal(
        showerdata.load(path, 5, 30, max_points=12).compute(),
        showerdata.load(tmp_path / "same.h5", 5, 30, max_points=12).compute(),
    )


def test_in_memory_lazy_and_particles_round_trip(tmp_path, make_showers):
    showers = make_showers(n=23, max_points=9, num_features=4)
    showerdata.save(showers, tmp_path / "mem.zarr")
    assert_showers_equal(showerdata.load(tmp_path / "mem.zarr").compute(), showers)
    particles = showerdata.load_inc_particles(tmp_path / "mem.zarr")
    showerdata.save(particles, tmp_path / "inc.zarr")
    back = showerdata.load_inc_particles(tmp_path / "inc.zarr").compute()
    np.testing.assert_array_equal(back.energies, showers.energies)
    np.testing.assert_array_equal(back.directions, showers.directions)
    assert showerdata.get_file_length(tmp_path / "inc.zarr") == 23
    with pytest.raises(ValueError, match="not a valid shower data file"):
        showerdata.get_file_shape(tmp_path / "inc.zarr")


def test_zero_showers_round_trip(tmp_path, make_showers):
    empty = make_showers(n=5)[0:0]
    showerdata.save(empty, tmp_path / "empty.zarr")
    assert showerdata.get_file_shape(tmp_path / "empty.zarr")[0] == 0
    assert len(showerdata.load(tmp_path / "empty.zarr").compute()) == 0


def test_metadata_targets_and_observables(stored, tmp_path):
    path, showers = stored
    showerdata.add_metadata(path, {"generator": "toy", "seed": np.int64(3)})
    assert showerdata.load_metadata(path) == {
        "showerdata_version": showerdata.__version__,
        "generator": "toy",
        "seed": 3,
    }
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(37, 25, 3)).astype(np.float32)  # junk in the padding
    showerdata.save_target(latent, path)
    points, counts = dask.compute(*showerdata.load_target(path))
    np.testing.assert_array_equal(counts, showers.num_points)
    expected = np.where(
        np.arange(25)[None, :, None] < showers.num_points[:, None, None], latent, 0
    )
    np.testing.assert_array_equal(points, expected)
    showerdata.add_target_dataset(path, (37, 25, 3), key="batched")
    showerdata.save_target_batch(latent[:20], path, start=0, key="batched")
    showerdata.save_target_batch(latent[20:], path, start=20, key="batched")
    np.testing.assert_array_equal(showerdata.load_target(path, "batched")[0], expected)

    showerdata.observables.add_observables_to_file(path)
    stored_values = showerdata.observables.read_observables_from_file(path)
    computed = showerdata.observables.calc_observables(
        showers, showerdata.observables.geometry_of_file(path)
    )
    for key, values in computed.items():
        np.testing.assert_array_equal(stored_values[key], np.asarray(values), key)
    energies = showerdata.observables.read_point_energies(path, 3, 9)
    real = np.arange(25) < showers.num_points[3:9, None]
    np.testing.assert_array_equal(energies, showers.points[3:9][real][:, 3])


def test_showerdatafile_on_zarr(tmp_path, make_showers):
    showers = make_showers(n=30, max_points=10)
    path = tmp_path / "file.zarr"
    with ShowerDataFile(path, "w", shape=(30, 10, 5)) as file:
        assert not path.exists()  # appears when complete
        file[0:12] = showers[0:12]
        file[12:] = showers[12:]
    with ShowerDataFile(path, "a") as file:
        file[[3, 7]] = showers[[7, 3]]
    with ShowerDataFile(path) as file:
        assert_showers_equal(file[3], showers[7])
        assert_showers_equal(file[10:20], showers[10:20])


# -- save_batch: aligned, unaligned, concurrent ---------------------------------------


def test_save_batch_unaligned_regions_equal_a_serial_write(tmp_path, make_showers):
    showers = make_showers(n=53, max_points=12)
    path = tmp_path / "batched.zarr"
    with dask.config.set({"showerdata.chunk-bytes": 12 * 5 * 4 * 8}):  # 8 per chunk
        showerdata.create_empty_file(path, (60, 12, 5))
    for start, stop in [(0, 5), (5, 19), (19, 40), (40, 53)]:
        showerdata.save_batch(showers[start:stop], path, start)
    back = showerdata.load(path).compute()
    assert_showers_equal(back[:53], showers)
    # Rows never written read as empty showers, as in an HDF5 file.
    assert back.num_points[53:].tolist() == [0] * 7
    with pytest.raises(IndexError):
        showerdata.save_batch(showers[:10], path, 55)


CONCURRENT_WRITER = """
import sys
import showerdata
from showerdata.toy import toy_showers
path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
showers = toy_showers(300, seed=9, max_points=40).compute()
for start in range(first, last, 7):  # unaligned pieces of 7 rows into chunks of 16
    stop = min(start + 7, last)
    showerdata.save_batch(showers[start:stop], path, start)
"""


def test_independent_processes_fill_one_store(tmp_path):
    path = tmp_path / "shared.zarr"
    with dask.config.set({"showerdata.chunk-bytes": 40 * 5 * 4 * 16}):
        showerdata.create_empty_file(path, (300, 40, 5))
    assert zarr.open_group(path)["showers"].chunks[0] == 16
    # Interleaved ranges so every process shares chunks with its neighbours.
    script = tmp_path / "writer.py"
    script.write_text(CONCURRENT_WRITER)
    bounds = [(0, 75), (75, 150), (150, 225), (225, 300)]
    workers = [
        subprocess.Popen([sys.executable, str(script), str(path), str(a), str(b)])
        for a, b in bounds
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    serial = tmp_path / "serial.zarr"
    showerdata.save(toy_showers(300, seed=9, max_points=40), serial)
    assert_showers_equal(
        showerdata.load(path).compute(), showerdata.load(serial).compute()
    )


# -- resume --

SLOW_SAVE = """
import sys, dask, showerdata
from showerdata.toy import toy_showers
dask.config.set(scheduler="synchronous")
showers = toy_showers(4000, seed=5, max_points=300, chunks=100)
showerdata.save(showers, sys.argv[1])
"""


def _written_chunks(partial: Path) -> dict[str, int]:
    record = partial / CHUNKS_WRITTEN / "c"
    if not record.exists():
        return {}
    # Entries only: a killed writer may leave a temporary file of its own.
    return {p.name: p.stat().st_mtime_ns for p in record.iterdir() if p.name.isdigit()}


def test_killed_save_resumes_and_skips_complete_chunks(tmp_path):
    path = tmp_path / "resumed.zarr"
    partial = tmp_path / ".resumed.zarr.partial"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SAVE)
    process = subprocess.Popen([sys.executable, str(script), str(path)])
    deadline = time.monotonic() + 60
    while len(_written_chunks(partial)) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = _written_chunks(partial)
    assert 5 <= len(before) < 40, "the kill should land mid-save"
    assert not path.exists()
    with pytest.raises(FileNotFoundError):
        showerdata.load(path)

    showers = toy_showers(4000, seed=5, max_points=300, chunks=100)
    showerdata.save(showers, path, resume=True)
    after_files = _written_chunks(path)
    assert len(after_files) == 40
    assert all(after_files[name] == mtime for name, mtime in before.items())
    assert not partial.exists()
    clean = tmp_path / "clean.zarr"
    showerdata.save(showers, clean)
    assert_showers_equal(
        showerdata.load(path).compute(), showerdata.load(clean).compute()
    )


def test_resume_refuses_different_data(tmp_path, make_showers):
    partial_owner = tmp_path / "x.zarr"
    showers = make_showers(n=30, max_points=10)
    # An interrupted build looks like this: a store at the partial path.
    showerdata.save(showers.chunk(10), tmp_path / "stage.zarr")
    zarr.open_group(tmp_path / "stage.zarr", mode="r+").attrs["showerdata_state"] = (
        "writing"
    )
    os.rename(tmp_path / "stage.zarr", tmp_path / ".x.zarr.partial")
    with pytest.raises(ShowerDataError, match="cannot resume"):
        showerdata.save(make_showers(n=31, max_points=10), partial_owner, resume=True)
    assert not partial_owner.exists()


# -- conversion --


def _datasets(path: Path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as file:

        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                values = item[()]
                if h5py.check_vlen_dtype(item.dtype) is not None:
                    values = [np.asarray(row).tobytes() for row in values]
                found[name] = values

        file.visititems(visit)
        found["attrs"] = dict(file.attrs)
    return found


@pytest.mark.parametrize("fixture", ["f5.h5", "f4.h5", "target.h5", "inc_only.h5"])
def test_convert_round_trip_is_bit_exact(tmp_path, fixture):
    original = FIXTURES / "v07" / fixture
    showerdata.convert(original, tmp_path / "mirror.zarr")
    showerdata.convert(tmp_path / "mirror.zarr", tmp_path / "back.h5")
    before, after = _datasets(original), _datasets(tmp_path / "back.h5")
    assert sorted(before) == sorted(after)
    for name, values in before.items():
        if name == "attrs":
            assert after["attrs"] == values
        elif name == "shape":  # int64, as 0.7's save (and ours) writes it
            assert after[name].dtype == values.dtype == np.int64, name
            np.testing.assert_array_equal(after[name], values)
        elif name.endswith(("shape", "num_points")):
            # 0.7 wrote some counts as int64; the layout's dtype is int32.
            assert after[name].dtype == np.int32, name
            np.testing.assert_array_equal(after[name], values)
        elif isinstance(values, list):
            assert after[name] == values, name
        else:
            assert after[name].dtype == values.dtype, name
            assert after[name].tobytes() == values.tobytes(), name


def test_convert_with_observables_and_errors(stored, tmp_path):
    path, showers = stored
    showerdata.observables.add_observables_to_file(path)
    showerdata.convert(path, tmp_path / "copy.h5")
    for key, values in showerdata.observables.read_observables_from_file(path).items():
        copied = showerdata.observables.read_observables_from_file(tmp_path / "copy.h5")
        np.testing.assert_array_equal(copied[key], values, key)
    with pytest.raises(FileExistsError):
        showerdata.convert(path, tmp_path / "copy.h5")
    assert not [p for p in os.listdir(tmp_path) if "converting" in p]


# -- bad input --


def test_plain_zarr_group_and_plain_directory_are_refused(tmp_path, make_showers):
    zarr.open_group(tmp_path / "plain.zarr", mode="w").create_array(
        "showers", shape=(3,), dtype="f4"
    )
    with pytest.raises(ShowerDataError, match="not a showerdata store"):
        showerdata.load(tmp_path / "plain.zarr")
    (tmp_path / "notes.zarr").mkdir()
    with pytest.raises(ShowerDataError, match="not a zarr group"):
        showerdata.load(tmp_path / "notes.zarr")
    (tmp_path / "photos.zarr").mkdir()
    (tmp_path / "photos.zarr" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not a zarr store"):
        showerdata.save(make_showers(n=3), tmp_path / "photos.zarr", overwrite=True)
    assert (tmp_path / "photos.zarr" / "cat.jpg").exists()


@pytest.mark.parametrize(
    ("lost", "named"),
    [("showers/c/2/0/0", "showers"), ("num_points/c/2", "num_points")],
)
def test_missing_shard_of_a_written_store_is_an_error(stored, tmp_path, lost, named):
    path, _ = stored
    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(path, damaged)
    os.remove(damaged / lost)
    lazy = showerdata.load(damaged)
    assert_showers_equal(lazy[:20].compute(), showerdata.load(path, 0, 20).compute())
    with pytest.raises(ShowerDataError, match="shard 2 .*missing") as error:
        lazy.compute()
    assert error.value.dataset == named and 20 <= error.value.index < 30
    assert str(damaged) in str(error.value)
    with pytest.raises(ShowerDataError, match="shard 2 .*missing"):
        lazy[25:27].compute()


def test_inconsistent_lengths_and_chunkings_are_errors(stored):
    path, _ = stored
    group = zarr.open_group(path, mode="r+")
    values = group["pdg"][:]
    del group["pdg"]
    group.create_array("pdg", data=values[:30])
    with pytest.raises(ShowerDataError, match="pdg"):
        showerdata.load(path)


def test_arrays_of_different_chunking_are_refused(stored, make_showers):
    path, showers = stored
    group = zarr.open_group(path, mode="r+")
    values = group["pdg"][:]
    del group["pdg"]
    group.create_array("pdg", data=values, chunks=(7,))
    # Read through zarr, any chunking reads; written in parallel, it must match.
    assert_showers_equal(showerdata.load(path).compute(), showers)
    with pytest.raises(ShowerDataError, match="chunking") as error:
        showerdata.save_batch(make_showers(n=4, max_points=25), path, 3)
    assert error.value.dataset == "pdg"


def test_existing_store_is_kept_without_overwrite_and_on_failure(stored, make_showers):
    path, showers = stored
    with pytest.raises(FileExistsError):
        showerdata.save(make_showers(n=4), path)
    good = make_showers(n=20).chunk(5)
    negative = good.points.map_blocks(lambda b: b * np.float32(-1), dtype=np.float32)
    bad = showerdata.Showers(negative, good.energies, good.pdg)  # checked lazily
    with pytest.raises(ShowerDataError):
        showerdata.save(bad, path, overwrite=True)
    assert_showers_equal(showerdata.load(path).compute(), showers)
    assert not (path.parent / f".{path.name}.partial").exists()


@pytest.mark.parametrize("can_exchange", [True, False])
def test_overwriting_a_store_never_leaves_its_path_empty(
    stored, make_showers, monkeypatch, can_exchange
):
    from showerdata import replacing

    path, _ = stored
    new = make_showers(n=12)
    renamed_away = []
    replace = os.replace

    def watched_replace(source, destination):
        renamed_away.append(os.path.abspath(source) == os.path.abspath(path))
        replace(source, destination)

    monkeypatch.setattr(replacing.os, "replace", watched_replace)
    if not can_exchange:
        monkeypatch.setattr(replacing, "exchange", lambda first, second: False)
    showerdata.save(new, path, overwrite=True)
    assert_showers_equal(showerdata.load(path).compute(), new)
    # The old store is moved away first only where the system cannot swap.
    swaps = can_exchange and can_exchange_in(path.parent)
    assert any(renamed_away) == (not swaps)
    assert sorted(os.listdir(path.parent)) == [path.name]  # nothing left beside it


def test_store_names_in_json_are_plain(stored):
    # No codec that runs pickle: every codec of every array is a named JSON codec.
    path, _ = stored
    for metadata in Path(path).rglob("zarr.json"):
        text = metadata.read_text()
        assert "pickle" not in text.lower()
        json.loads(text)


def test_chunk_lock_serialises_partial_chunks(tmp_path):
    # Two threads rewriting disjoint rows of one chunk must both land.
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "locks.zarr"
    with dask.config.set({"showerdata.chunk-bytes": 4 * 5 * 4 * 64}):
        showerdata.create_empty_file(path, (64, 4, 5))
    showers = toy_showers(64, seed=2, max_points=4).compute()

    def write(row: int) -> None:
        showerdata.save_batch(showers[row : row + 1], path, row)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(64)))
    assert_showers_equal(showerdata.load(path).compute(), showers)


def test_showers_without_points_round_trip(tmp_path):
    # P = 0: the points array has no values, so zarr writes no chunk files.
    empty = showerdata.Showers(
        points=np.zeros((3, 0, 4), np.float32), energies=np.ones((3, 1)), pdg=22
    )
    showerdata.save(empty, tmp_path / "empty.zarr")
    assert showerdata.load(tmp_path / "empty.zarr").compute() == empty


def test_a_replaced_store_is_not_read_through_the_arrays_kept(stored, make_showers):
    path, _ = stored
    from showerdata.io.files import handle

    handle(path)  # keeps the arrays of this version of the store
    other = make_showers(n=23, max_points=25, num_features=5, seed=9)
    showerdata.save(other.chunk(7), path, overwrite=True)
    assert_showers_equal(showerdata.load(path).compute(), other)


# -- conversion of large chunks -------------------------------------------------------


@pytest.fixture(scope="module")
def large_chunks(tmp_path_factory):
    """An HDF5 file whose showers make zarr chunks of 12 MiB (written in pieces)."""
    showers = showerdata.Showers(
        **showerdata.toy.toy_arrays(0, 700, seed=4, max_points=2000, num_features=5)
    )
    path = tmp_path_factory.mktemp("large") / "large.h5"
    showerdata.save(showers, path)
    return path, showers


def test_a_bad_point_met_in_a_piece_names_its_shower(large_chunks, tmp_path):
    path, showers = large_chunks
    bad = tmp_path / "bad.h5"
    bad.write_bytes(path.read_bytes())
    with h5py.File(bad, "r+") as file:
        row = file["showers"][613].copy()
        row[5 * 2 + 3] = np.nan  # the energy of point 2
        file["showers"][613] = row
    with pytest.raises(ShowerDataError) as error:
        showerdata.convert(bad, tmp_path / "bad.zarr")
    assert error.value.index == 613 and error.value.dataset == "showers"
    assert str(bad) in str(error.value)
    assert os.listdir(tmp_path) == ["bad.h5"]


@pytest.mark.parametrize("lazy", [False, True], ids=["in memory", "lazy"])
def test_negative_zero_chunks_are_written_not_taken_for_fill(tmp_path, lazy):
    # A chunk of -0.0 equals the fill value 0 and would be skipped as empty.
    showers = showerdata.Showers(
        points=np.zeros((6, 0, 4), np.float32),
        energies=np.full((6, 1), -0.0, np.float32),
        directions=np.tile(np.array([-0.0, -0.0, 1.0], np.float32), (6, 1)),
        pdg=22,
    )
    showerdata.save(showers.chunk(3) if lazy else showers, tmp_path / "zeros.zarr")
    back = showerdata.load(tmp_path / "zeros.zarr").compute()
    assert np.signbit(back.energies).all()
    assert np.signbit(back.directions[:, :2]).all()


@pytest.mark.parametrize("damage", ["truncated", "bytes flipped"])
def test_a_damaged_shard_is_an_error_naming_store_array_and_showers(
    stored, tmp_path, damage
):
    path, _ = stored
    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(path, damaged)
    shard = damaged / "showers" / "c" / "1" / "0" / "0"
    data = bytearray(shard.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        for offset in range(40, min(len(data) - 40, 400)):
            data[offset] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(damaged).compute()
    assert str(damaged) in str(error.value)
    assert error.value.dataset == "showers" and 10 <= error.value.index < 20
    # The other shards still read.
    assert_showers_equal(
        showerdata.load(damaged, 0, 10).compute(),
        showerdata.load(path, 0, 10).compute(),
    )


def test_targets_go_into_store_objects_new_or_holding_showers(tmp_path):
    points = np.zeros((6, 30, 4), np.float32)
    for i in range(6):  # 3, 7, ... points: the counts taken from the store show
        points[i, : 3 + 4 * i] = [1.0, 2.0, 3.0, 0.5]
    showers = showerdata.Showers(points, np.ones((6, 1)), 22)
    holding = zarr.storage.LocalStore(tmp_path / "showers.zarr")
    showerdata.save(showers, holding)
    target = np.ones((6, 30, 2), np.float32)
    showerdata.save_target(target, holding)  # counts from the store's showers
    _, counts = dask.compute(*showerdata.load_target(holding))
    np.testing.assert_array_equal(counts, showers.num_points)
    fresh = zarr.storage.LocalStore(tmp_path / "fresh.zarr")
    showerdata.save_target(target, fresh, np.full(6, 3))
    _, counts = dask.compute(*showerdata.load_target(fresh))
    np.testing.assert_array_equal(counts, np.full(6, 3))


@pytest.fixture
def memory_url(tmp_path):
    """A URL in fsspec's in-memory filesystem: a store reached like ``s3://``."""
    root = f"memory://{tmp_path.name}"
    yield lambda name: f"{root}/{name}"
    fsspec.filesystem("memory").rm(root, recursive=True)


def test_a_store_named_by_url_is_written_read_and_kept(memory_url, make_showers):
    # The fast stand-in of tests/test_object_store.py: a URL goes through
    # fsspec as s3:// does, without a server.
    showers = make_showers(n=17, max_points=11)
    showerdata.save(showers.chunk(6), memory_url("plain.zarr"))
    assert_showers_equal(showerdata.load(memory_url("plain.zarr")).compute(), showers)
    with pytest.raises(FileExistsError, match="memory://.*plain.zarr"):
        showerdata.save(showers, memory_url("plain.zarr"))
    # storage_options make a store the URL's filesystem can write to.
    showerdata.save(showers, memory_url("options.zarr"), storage_options={})
    lazy = showerdata.load(memory_url("options.zarr"), storage_options={})
    assert_showers_equal(lazy.compute(), showers)


def test_a_target_for_a_store_named_by_url_is_refused_naming_it(
    memory_url, make_showers
):
    memory = fsspec.filesystem("memory")
    showers = make_showers(n=9, max_points=8)
    showerdata.save(showers, memory_url("target.zarr"))
    files = sorted(memory.find(memory_url("target.zarr")))
    latent = np.ones((9, 8, 2), np.float32)
    # The counts come from the store, which exists; the refusal names the
    # store by its URL, and the group.
    refusal = r"memory:///.*target\.zarr'.*dataset 'latent'.*needs a local store"
    with pytest.raises(ShowerDataError, match=refusal):
        showerdata.save_target(latent, memory_url("target.zarr"), name="latent")
    assert sorted(memory.find(memory_url("target.zarr"))) == files
