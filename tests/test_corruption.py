"""A catalogue of damaged files and stores: one clear error, and nothing written.

Each defect is made by changing bytes of a file or store our code wrote, found
through public APIs (h5py's ``get_offset`` and ``get_chunk_info``, zarr's
array metadata and store listing). The rows a defect damages are worked out
here from the bytes, independently of the reader. Every way of reading the
data (compute, one shower, a file object, ``showerdata verify``) must raise a
:class:`ShowerDataError` naming the file, the dataset and those showers; every
command that reads it to write elsewhere (``save``, ``convert``, fresh or over
a previous file) must leave no destination and the previous one unchanged.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr
from conftest import digest
from zarr.codecs import BloscCodec

import showerdata
from showerdata import ShowerDataError, ShowerDataFile
from showerdata.cli import main
from showerdata.toy import toy_showers

pytestmark = pytest.mark.timeout(120)

N = 60
BAD = 23  # the shower single-row defects are put into
#: HDF5 references of variable-length rows: length (u4), heap address (u8),
#: object index (u4), as the HDF5 file format specifies them.
REFERENCE_BYTES = 16


@dataclass(frozen=True)
class Damage:
    """What a defect damaged: a dataset, and the rows (None: the whole dataset)."""

    dataset: str
    rows: tuple[int, ...] | None
    says: str = ""  # a fragment the message must hold besides
    whole: bool = True  # False: the message may name only the first of the rows


def assert_names(error: ShowerDataError, path: Path, damage: Damage) -> None:
    """The error names the file, the dataset and the damaged showers."""
    text = str(error)
    assert os.fspath(path) in text, text
    assert error.dataset == damage.dataset and f"'{damage.dataset}'" in text, text
    assert damage.says in text, text
    if damage.rows is None:
        assert error.index is None, text
        return
    first, last = damage.rows[0], damage.rows[-1]
    assert damage.rows == tuple(range(first, last + 1)), "a test with one run"
    assert error.index == first, text
    if not damage.whole:  # a read of a chunk of the rows names those it read
        assert f": shower {first} " in text or f": showers {first} to " in text, text
        return
    span = f"showers {first} to {last}" if last > first else f"shower {first}"
    assert span in text, text


def patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


# -- HDF5 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_hdf5(tmp_path_factory) -> Path:
    showers = toy_showers(N, max_points=40, seed=5, energy_range=(0.5, 4.0))
    path = tmp_path_factory.mktemp("good") / "good.h5"
    showerdata.save(showers.compute(), path)
    return path


def references(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(lengths, heap addresses, object indices, offset) of the rows of showers."""
    with h5py.File(path, "r") as file:
        offset = file["showers"].id.get_offset()
    raw = np.fromfile(path, np.uint8, N * REFERENCE_BYTES, offset=offset)
    raw = raw.reshape(N, REFERENCE_BYTES)
    lengths = raw[:, 0:4].copy().view("<u4").ravel()
    addresses = raw[:, 4:12].copy().view("<u8").ravel()
    indices = raw[:, 12:16].copy().view("<u4").ravel()
    return lengths, addresses, indices, offset


def damaged_heap_collection(path: Path) -> Damage:
    """The signature of the global heap collection holding shower BAD, overwritten."""
    lengths, addresses, _, _ = references(path)
    patch(path, int(addresses[BAD]), b"XXXX")
    rows = np.flatnonzero((addresses == addresses[BAD]) & (lengths > 0))
    return Damage("showers", tuple(rows.tolist()))


def reference_past_the_end(path: Path) -> Damage:
    """Shower BAD's reference points past the end of the file."""
    *_, offset = references(path)
    beyond = os.path.getsize(path) + 4096
    patch(path, offset + REFERENCE_BYTES * BAD + 4, beyond.to_bytes(8, "little"))
    return Damage("showers", (BAD,))


def reference_past_the_collection(path: Path) -> Damage:
    """Shower BAD's reference names an object its heap collection does not hold.

    One past the last object: HDF5 1.14.2 (h5py 3.10) crashes the process on
    an index far beyond the collection, where HDF5 2.0 reports it.
    """
    _, addresses, indices, offset = references(path)
    last = int(indices[addresses == addresses[BAD]].max())
    patch(path, offset + REFERENCE_BYTES * BAD + 12, (last + 1).to_bytes(4, "little"))
    return Damage("showers", (BAD,))


def rechunked(path: Path, name: str, **options) -> None:
    """Rewrite dataset ``name`` chunked by 10 rows with ``options`` (as other
    writers store it)."""
    with h5py.File(path, "r+") as file:
        values = file[name][...]
        dtype = file[name].dtype
        del file[name]
        file.create_dataset(
            name, data=values, dtype=dtype, chunks=(10, *values.shape[1:]), **options
        )


def spoil_chunk(path: Path, name: str, row: int) -> tuple[int, ...]:
    """Overwrite the middle bytes of the chunk of ``name`` holding ``row``."""
    with h5py.File(path, "r") as file:
        dataset = file[name]
        info = dataset.id.get_chunk_info_by_coord(
            (row // 10 * 10,) + (0,) * (dataset.ndim - 1)
        )
    middle = info.byte_offset + info.size // 2
    patch(path, middle - 2, b"\xff\x00\xff\x00")
    first = row // 10 * 10
    return tuple(range(first, first + 10))


def damaged_gzip_chunk_of_energies(path: Path) -> Damage:
    rechunked(path, "energies", compression="gzip")
    return Damage("energies", spoil_chunk(path, "energies", 30))


def damaged_gzip_chunk_of_showers(path: Path) -> Damage:
    rechunked(path, "showers", compression="gzip")
    return Damage("showers", spoil_chunk(path, "showers", 40))


def damaged_checksummed_chunk_of_num_points(path: Path) -> Damage:
    rechunked(path, "num_points", fletcher32=True)
    return Damage("num_points", spoil_chunk(path, "num_points", 20))


def short_num_points(path: Path) -> Damage:
    with h5py.File(path, "r+") as file:
        values = file["num_points"][: N - 10]
        del file["num_points"]
        file["num_points"] = values
    return Damage("num_points", None, f"has shape ({N - 10},), expected ({N},)")


HDF5_DEFECTS: dict[str, Callable[[Path], Damage]] = {
    "damaged global heap collection": damaged_heap_collection,
    "vlen reference past the end of the file": reference_past_the_end,
    "vlen reference past the heap collection": reference_past_the_collection,
    "damaged gzip chunk of energies": damaged_gzip_chunk_of_energies,
    "damaged gzip chunk of showers": damaged_gzip_chunk_of_showers,
    "damaged fletcher32 chunk of num_points": damaged_checksummed_chunk_of_num_points,
    "num_points shorter than showers": short_num_points,
}


# -- zarr ---------------------------------------------------------------------------

SHARD = 30  # showers per shard; of P = 2000 points, inner chunks of 10 showers


@pytest.fixture(scope="module")
def good_zarr(tmp_path_factory) -> Path:
    showers = toy_showers(N, max_points=2000, seed=6, chunks=SHARD)
    path = tmp_path_factory.mktemp("good") / "good.zarr"
    showerdata.save(showers, path)
    array = zarr.open_array(path / "showers", mode="r")
    assert array.shards[0] == SHARD and array.chunks[0] < SHARD
    return path


def chunk_file(store: Path, name: str, index: int) -> Path:
    """The file of chunk (or shard) ``index`` along showers of array ``name``."""
    array = zarr.open_group(store, mode="r")[name]
    key = (
        f"{name}/{array.metadata.encode_chunk_key((index,) + (0,) * (array.ndim - 1))}"
    )

    async def listed() -> list[str]:
        return [k async for k in zarr.storage.LocalStore(store).list_prefix(name)]

    assert key in asyncio.run(listed())
    return store / key


def shard_index(data: bytes, inner: int) -> np.ndarray:
    """(offset, nbytes) of each inner chunk: the index ends the shard, followed by
    its CRC-32C (zarr's sharding codec, index at the end)."""
    entries = np.frombuffer(data[-(16 * inner + 4) : -4], "<u8")
    return entries.reshape(inner, 2)


def rows_of(first: int, count: int) -> tuple[int, ...]:
    return tuple(range(first, first + count))


def truncated_chunk_of_energies(store: Path) -> Damage:
    array = zarr.open_array(store / "energies", mode="r")
    file = chunk_file(store, "energies", 1)
    file.write_bytes(file.read_bytes()[:-7])
    return Damage("energies", rows_of(array.chunks[0], array.chunks[0]))


def truncated_shard(store: Path) -> Damage:
    file = chunk_file(store, "showers", 1)
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    return Damage("showers", rows_of(SHARD, SHARD))


def truncated_shard_index(store: Path) -> Damage:
    file = chunk_file(store, "showers", 1)
    file.write_bytes(file.read_bytes()[:-8])
    return Damage("showers", rows_of(SHARD, SHARD))


def byte_flipped_in_a_blosc_frame(store: Path, checksummed: bool = True) -> Damage:
    """The last byte of the Blosc frame of inner chunk 1 of shard 1 flipped.

    LZ4 ends every block with literals: that byte is data, not structure.
    """
    inner = zarr.open_array(store / "showers", mode="r").chunks[0]
    file = chunk_file(store, "showers", 1)
    data = bytearray(file.read_bytes())
    offset, size = (int(v) for v in shard_index(bytes(data), SHARD // inner)[1])
    frame = size - 4 if checksummed else size  # the CRC-32C follows the frame
    data[offset + frame - 1] ^= 0x01
    file.write_bytes(bytes(data))
    return Damage("showers", rows_of(SHARD + inner, inner))


def short_num_points_array(store: Path) -> Damage:
    group = zarr.open_group(store, mode="r+")
    values = group["num_points"][: N - 10]
    del group["num_points"]
    group.create_array("num_points", data=values, chunks=(SHARD,))
    return Damage("num_points", None, f"has shape ({N - 10},), expected ({N},)")


ZARR_DEFECTS: dict[str, Callable[[Path], Damage]] = {
    "truncated chunk of energies": truncated_chunk_of_energies,
    "truncated shard": truncated_shard,
    "truncated shard index": truncated_shard_index,
    "byte flipped in a Blosc frame": byte_flipped_in_a_blosc_frame,
    "num_points shorter than showers": short_num_points_array,
}


# -- how they are read ----------------------------------------------------------------

DEFECTS = {
    **{f"h5: {name}": (".h5", make) for name, make in HDF5_DEFECTS.items()},
    **{f"zarr: {name}": (".zarr", make) for name, make in ZARR_DEFECTS.items()},
}


@pytest.fixture(params=list(DEFECTS), ids=list(DEFECTS))
def damaged(request, tmp_path, good_hdf5, good_zarr) -> tuple[Path, Damage]:
    suffix, make = DEFECTS[request.param]
    path = tmp_path / "input" / f"damaged{suffix}"
    path.parent.mkdir()
    if suffix == ".h5":
        shutil.copy(good_hdf5, path)
    else:
        shutil.copytree(good_zarr, path)
    return path, make(path)


def first_damaged(damage: Damage) -> int:
    return damage.rows[0] if damage.rows else 0


READS = {
    "load().compute()": lambda path, damage: showerdata.load(path).compute(),
    "load(chunks=10).compute()": lambda path, damage: showerdata.load(
        path, chunks=10
    ).compute(),
    "load()[first]": lambda path, damage: showerdata.load(path)[
        first_damaged(damage)
    ].compute(),
    "ShowerDataFile[:]": lambda path, damage: ShowerDataFile(path)[:],
}


def narrowed(damage: Damage, read: str) -> Damage:
    """What a read names: the damaged rows it read, of the first chunk that fails."""
    if damage.rows is None:
        return damage
    first = damage.rows[0]
    if read == "load()[first]":
        return Damage(damage.dataset, (first,), damage.says)
    if read == "load(chunks=10).compute()":
        return Damage(damage.dataset, damage.rows, damage.says, whole=False)
    return damage


@pytest.mark.parametrize("read", READS)
def test_reading_damaged_data_names_file_dataset_and_showers(
    damaged, read, hdf5_reader
):
    path, damage = damaged
    with pytest.raises(ShowerDataError) as error:
        READS[read](path, damage)
    assert_names(error.value, path, narrowed(damage, read))


def test_verify_names_the_damage(damaged, capsys, hdf5_reader):
    path, damage = damaged
    assert main(["verify", str(path), "--quiet"]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("showerdata: error: ") and os.fspath(path) in error
    assert f"'{damage.dataset}'" in error and damage.says in error
    if damage.rows is not None:
        assert f"shower {damage.rows[0]}" in error


WRITES = {
    "save": lambda source, destination, overwrite: showerdata.save(
        showerdata.load(source, chunks=10), destination, overwrite
    ),
    "convert": lambda source, destination, overwrite: showerdata.convert(
        source, destination, overwrite
    ),
    "showerdata convert": lambda source, destination, overwrite: main(
        ["convert", str(source), str(destination), "--quiet"]
        + (["--overwrite"] if overwrite else [])
    ),
}


@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
@pytest.mark.parametrize("write", WRITES)
def test_writing_damaged_data_elsewhere_writes_nothing(
    damaged, tmp_path, good_hdf5, good_zarr, write, suffix, capsys
):
    path, damage = damaged
    out = tmp_path / "out"
    out.mkdir()
    previous = out / f"previous{suffix}"
    (shutil.copy if suffix == ".h5" else shutil.copytree)(
        good_hdf5 if suffix == ".h5" else good_zarr, previous
    )
    before = digest(previous)
    for destination, overwrite in ((out / f"fresh{suffix}", False), (previous, True)):
        if write == "showerdata convert":
            assert WRITES[write](path, destination, overwrite) == 1
            assert os.fspath(path) in capsys.readouterr().err
        else:
            with pytest.raises(ShowerDataError) as error:
                WRITES[write](path, destination, overwrite)
            assert os.fspath(path) in str(error.value)
            assert error.value.dataset == damage.dataset
    assert sorted(os.listdir(out)) == [previous.name]  # no partial file, visible or not
    assert digest(previous) == before


# -- stores written before the checksum ----------------------------------------------


def without_checksums(store: Path, old: Path) -> None:
    """Copy a store as showerdata wrote it before the CRC-32C codec: Blosc alone."""
    source = zarr.open_group(store, mode="r")
    copy = zarr.open_group(old, mode="w", zarr_format=3, attributes=dict(source.attrs))
    for name, array in source.arrays():
        plain = name in ("chunks_written", "shape")
        copy.create_array(
            name,
            shape=array.shape,
            chunks=array.chunks,
            shards=array.shards,
            dtype=array.dtype,
            fill_value=array.fill_value,
            compressors=None
            if plain
            else BloscCodec(cname="lz4", clevel=3, shuffle="shuffle"),
        )[...] = array[...]


def test_a_flipped_byte_in_a_store_without_checksums_goes_unseen(tmp_path, good_zarr):
    """Why new stores checksum every chunk: Blosc checks nothing of its payload.

    In a store written without the CRC-32C codec (showerdata before it), the
    byte that the checksummed store reports (see the catalogue above) decodes
    to other values without an error from the codecs (our checks of the points
    may still catch some); only a damaged Blosc header is an error.
    """
    old = tmp_path / "old.zarr"
    without_checksums(good_zarr, old)
    expected = showerdata.load(good_zarr).compute()
    assert showerdata.load(old).compute() == expected
    flipped = tmp_path / "flipped.zarr"
    shutil.copytree(old, flipped)
    damage = byte_flipped_in_a_blosc_frame(flipped, checksummed=False)
    silently = zarr.open_array(flipped / "showers", mode="r")[...]
    rows = np.array(damage.rows)
    assert not np.array_equal(silently[rows], expected.points[rows])
    others = np.setdiff1d(np.arange(N), rows)
    assert np.array_equal(silently[others], expected.points[others])
    # A damaged header (Blosc's version byte) is refused, and named.
    header = tmp_path / "header.zarr"
    shutil.copytree(old, header)
    file = chunk_file(header, "showers", 1)
    data = bytearray(file.read_bytes())
    inner = zarr.open_array(header / "showers", mode="r").chunks[0]
    offset = int(shard_index(bytes(data), SHARD // inner)[1][0])
    data[offset] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(header).compute()
    assert_names(error.value, header, Damage("showers", rows_of(SHARD + inner, inner)))
