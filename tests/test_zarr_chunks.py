"""The direct decoding of zarr chunks (io/zarr_chunks.py) against zarr's own reading.

Whatever path a read takes, the result must be the stored rows, bit for bit,
and damage must be reported as zarr reports it.
"""

from __future__ import annotations

import concurrent.futures
import os

import numpy as np
import pytest
import zarr
from conftest import assert_showers_equal

import showerdata
from showerdata import ShowerDataError
from showerdata.io import zarr_chunks
from showerdata.io.blosc_frames import FrameHeader
from showerdata.io.zarr_chunks import decodes_directly, read_points_into, read_rows_into
from showerdata.io.zarr_store import written_chunks

N, P, CHUNK = 130, 400, 32  # five chunks, the last one partial


@pytest.fixture
def store(tmp_path, make_showers):
    showers = make_showers(N, max_points=P)
    path = tmp_path / "s.zarr"
    showerdata.save(showers.chunk(CHUNK), path)
    return path, showers


def points(path):
    return zarr.open_group(path, mode="r")["showers"]


@pytest.mark.parametrize("threaded_bytes", [0, 2**62])  # chunks in threads, or not
@pytest.mark.parametrize("start, stop", [(0, N), (0, 32), (5, 70), (96, N), (129, N)])
def test_rows_equal_zarr_bit_for_bit(store, start, stop, threaded_bytes, monkeypatch):
    monkeypatch.setattr(zarr_chunks, "THREADED_READ_BYTES", threaded_bytes)
    started = []
    monkeypatch.setattr(
        zarr_chunks,
        "ThreadPoolExecutor",
        lambda *a, **k: (
            started.append(1) or concurrent.futures.ThreadPoolExecutor(*a, **k)
        ),
    )
    path, _ = store
    array = points(path)
    assert decodes_directly(array)
    counts = zarr.open_group(path, mode="r")["num_points"][start:stop]
    out = np.zeros((stop - start, P, 5), np.float32)
    assert read_points_into(array, start, out, counts) == 0
    assert out.tobytes() == array[start:stop].tobytes()
    several_chunks = (stop - 1) // CHUNK > start // CHUNK
    assert bool(started) == (several_chunks and threaded_bytes == 0)


def test_load_reads_through_it(store):
    path, showers = store
    assert_showers_equal(showerdata.load(path).compute(), showers)
    assert_showers_equal(showerdata.load(path)[40:100].compute(), showers[40:100])
    assert_showers_equal(showerdata.load(path, chunks=7).compute(), showers)


def rewrite_chunk(path, index, rows):
    """Replace rows of chunk ``index`` of ``showers`` behind the library's back."""
    array = zarr.open_group(path, mode="r+")["showers"]
    first = index * CHUNK
    array[first : first + len(rows)] = rows


def test_padding_that_is_not_zero_is_copied_and_reported(store):
    path, showers = store
    rows = showers.points[64:96].copy()
    row = int(np.argmax(showers.num_points[64:96] < P))  # a shower with padding
    rows[row, showers.num_points[64 + row] :, 3] = 0.5  # energies in the padding
    rewrite_chunk(path, 2, rows)
    array = points(path)
    out = np.zeros((32, P, 5), np.float32)
    assert read_points_into(array, 64, out, showers.num_points[64:96]) == 1
    assert out.tobytes() == array[64:96].tobytes()
    with pytest.raises(ShowerDataError) as error:
        showerdata.load(path).compute()
    assert error.value.index == 64 + row


def test_negative_zero_padding_survives_bit_for_bit(store):
    path, showers = store
    rows = showers.points[0:32].copy()
    row = int(np.argmax(showers.num_points[:32] < P))
    rows[row, showers.num_points[row] :, 1] = -0.0
    rewrite_chunk(path, 0, rows)
    out = np.zeros((32, P, 5), np.float32)
    assert read_points_into(points(path), 0, out, showers.num_points[:32]) == 1
    assert out.tobytes() == rows.tobytes()


def chunk_path(path, index):
    return os.path.join(path, "showers", "c", str(index), "0", "0")


def test_a_truncated_chunk_is_left_to_zarr(store):
    path, showers = store
    with open(chunk_path(path, 1), "r+b") as handle:
        handle.truncate(100)
    out = np.zeros((N, P, 5), np.float32)
    assert read_points_into(points(path), 0, out, showers.num_points) is None
    with pytest.raises(Exception) as error:  # noqa: B017 -- whatever zarr raises
        showerdata.load(path).compute()
    assert not isinstance(error.value, AssertionError)


def test_a_missing_chunk_file_is_an_error_when_it_was_written(store):
    path, _ = store
    os.remove(chunk_path(path, 2))
    with pytest.raises(ShowerDataError, match="missing"):
        showerdata.load(path).compute()


def test_other_codecs_are_read_by_zarr(tmp_path, make_showers):
    showers = make_showers(50, max_points=P)
    path = tmp_path / "zstd.zarr"
    showerdata.save(showers.chunk(16), path)
    group = zarr.open_group(path, mode="r+")
    data = group["showers"][...]
    del group["showers"]
    group.create_array(
        "showers",
        data=data,
        chunks=(16, P, 5),
        compressors=zarr.codecs.ZstdCodec(level=3),
    )
    assert not decodes_directly(zarr.open_group(path, mode="r")["showers"])
    assert_showers_equal(showerdata.load(path).compute(), showers)


# -- writing ---------------------------------------------------------------------


def chunk_files(path):
    """Relative path -> bytes of every chunk file of a store."""
    files = {}
    for directory, _, names in os.walk(path):
        for name in names:
            full = os.path.join(directory, name)
            relative = os.path.relpath(full, path)
            if "/c/" in f"/{relative}":
                with open(full, "rb") as handle:
                    files[relative] = handle.read()
    return files


def test_written_chunks_equal_zarrs_own_bit_for_bit(store, tmp_path, monkeypatch):
    path, showers = store
    from showerdata.io import zarr_write

    # The same save with every chunk written by zarr.
    monkeypatch.setattr(zarr_write, "write_whole_chunks", lambda *args: False)
    by_zarr = tmp_path / "by_zarr.zarr"
    showerdata.save(showers.chunk(CHUNK), by_zarr)
    ours, theirs = chunk_files(path), chunk_files(by_zarr)
    assert set(ours) == set(theirs)
    assert "showers/c/4/0/0" in ours  # the short last chunk too
    assert all(ours[name] == theirs[name] for name in ours)
    assert not [
        n for n in os.listdir(path / "showers" / "c" / "0" / "0") if "partial" in n
    ]


def test_writes_only_what_covers_whole_chunks(store):
    from showerdata.io.zarr_chunks import write_whole_chunks

    path, showers = store
    array = zarr.open_group(path, mode="r+")["showers"]
    before = chunk_files(path)
    block = np.ones((CHUNK, P, 5), np.float32)
    assert not write_whole_chunks(array, 1, block)  # not on a chunk edge
    assert not write_whole_chunks(array, 0, block[:5])  # part of a chunk
    assert not write_whole_chunks(array, 0, block.astype(np.float64))
    assert not write_whole_chunks(array, 128, block)  # past the end
    assert chunk_files(path) == before
    assert write_whole_chunks(array, 32, np.concatenate([block, 2 * block]))
    assert write_whole_chunks(array, 128, block[:2])  # the short last chunk
    stored = zarr.open_group(path, mode="r")["showers"]
    assert (stored[32:64] == 1).all() and (stored[64:96] == 2).all()
    assert (stored[128:] == 1).all()
    np.testing.assert_array_equal(stored[:32], showers.points[:32])


def test_other_codecs_are_written_by_zarr(tmp_path):
    from showerdata.io.zarr_chunks import write_whole_chunks

    array = zarr.create_array(
        tmp_path / "z.zarr",
        shape=(8, 3),
        chunks=(4, 3),
        dtype="float32",
        compressors=zarr.codecs.ZstdCodec(),
    )
    assert not write_whole_chunks(array, 0, np.ones((8, 3), np.float32))


# -- block by block ----------------------------------------------------------------


@pytest.fixture
def small_blocks(tmp_path, make_showers):
    """A store whose Blosc blocks (68,000 bytes) end inside rows (8,000 bytes)."""
    showers = make_showers(N, max_points=P)
    path = tmp_path / "blocks.zarr"
    showerdata.save(showers.chunk(CHUNK), path)
    group = zarr.open_group(path, mode="r+")
    for name in ("showers", "directions"):
        data = group[name][...]
        del group[name]
        group.create_array(
            name,
            data=data,
            chunks=(CHUNK, *data.shape[1:]),
            compressors=zarr.codecs.BloscCodec(
                cname="lz4", clevel=5, shuffle="shuffle", typesize=4, blocksize=17000
            ),
        )
    return path, showers


# Blocks decoded per call: one, three (a chunk ends inside a run), all.
@pytest.mark.parametrize("run_bytes", [1, 3 * 68_000, 2**21])
@pytest.mark.parametrize(
    "start, stop", [(0, N), (1, 2), (31, 33), (40, 41), (7, 100), (128, N)]
)
def test_rows_cut_across_blocks_equal_zarr_bit_for_bit(
    small_blocks, start, stop, run_bytes, monkeypatch
):
    monkeypatch.setattr(zarr_chunks, "DECODED_RUN_BYTES", run_bytes)
    path, showers = small_blocks
    array = points(path)
    header = FrameHeader.parse(np.fromfile(chunk_path(path, 0), np.uint8))
    assert header.blocksize % (P * 5 * 4) and header.nbytes > header.blocksize
    out = np.zeros((stop - start, P, 5), np.float32)
    counts = showers.num_points[start:stop]
    assert read_points_into(array, start, out, counts, check=True) == 0
    assert out.tobytes() == array[start:stop].tobytes()
    directions = zarr.open_group(path, mode="r")["directions"]
    rows = np.full((stop - start, 3), np.nan, np.float32)
    assert read_rows_into(directions, start, rows)
    assert rows.tobytes() == directions[start:stop].tobytes()


@pytest.mark.parametrize(
    "value, problem",
    [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (-1.0, "negative")],
)
def test_a_bad_point_is_reported_with_its_row(small_blocks, value, problem):
    path, showers = small_blocks
    rows = showers.points[32:64].copy()
    rows[9, 3, 3] = value  # the energy of a real point of shower 41
    rewrite_chunk(path, 1, rows)
    out = np.zeros((N - 20, P, 5), np.float32)
    with pytest.raises(ShowerDataError, match=problem) as error:
        read_points_into(points(path), 20, out, showers.num_points[20:], check=True)
    assert error.value.index == 41 - 20  # counted from out[0]
    with pytest.raises(ShowerDataError, match=problem) as error:
        showerdata.load(path).compute()
    assert error.value.index == 41 and error.value.path == str(path)


def test_a_chunk_of_zeros_where_counts_say_points_is_reported(store):
    path, showers = store
    array = points(path)
    os.remove(chunk_path(path, 1))  # reads as the fill value, zeros
    out = np.zeros((N, P, 5), np.float32)
    with pytest.raises(ShowerDataError, match="num_points disagrees") as error:
        read_points_into(array, 0, out, showers.num_points, check=True)
    first = int(np.argmax(showers.num_points[32:64] > 0))
    assert error.value.index == 32 + first


def test_the_written_record_is_read_as_zarr_reads_it(store):
    path, _ = store
    record = zarr.open_group(path, mode="r+")["chunks_written"]
    record[2] = 0
    everything = np.arange(record.shape[0])
    np.testing.assert_array_equal(
        written_chunks(record, everything), record[...].astype(bool)
    )
    assert not written_chunks(record, everything)[2]
    with open(os.path.join(path, "chunks_written", "c", "3"), "wb") as handle:
        handle.write(b"\x01\x01")  # not one byte: zarr judges the damage
    with pytest.raises(Exception) as error:  # noqa: B017 -- whatever zarr raises
        written_chunks(record, everything)
    assert not isinstance(error.value, AssertionError)


def test_arrays_are_opened_once_per_version_of_their_metadata(store):
    from showerdata.io.zarr_store import member

    path, showers = store
    group = zarr.open_group(path, mode="r")
    first = member(group, "energies")
    assert member(group, "energies") is first
    with pytest.raises(KeyError):
        member(group, "no_such_array")
    writable = zarr.open_group(path, mode="r+")
    writable["energies"].resize((N + 5, 1))  # rewrites its metadata
    resized = member(zarr.open_group(path, mode="r"), "energies")
    assert resized is not first and resized.shape == (N + 5, 1)


# -- a chunk in pieces ---------------------------------------------------------------


def _padded(rows, max_points, features, seed, noise=False):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, max_points + 1, rows)
    counts[0] = max_points  # one full row
    block = np.zeros((rows, max_points, features), np.float32)
    for i, count in enumerate(counts):
        block[i, :count] = rng.uniform(0.1, 10.0, (count, features))
    if noise:  # incompressible bytes: the frame is stored as is
        block = rng.integers(0, 2**32, block.shape, dtype=np.uint32).view(np.float32)
    return block


@pytest.mark.parametrize(
    "codec",
    [
        {"cname": "lz4", "clevel": 3, "shuffle": "shuffle"},
        {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"},
        {"cname": "lz4", "clevel": 1, "shuffle": "noshuffle"},
        {"cname": "zstd", "clevel": 9, "shuffle": "shuffle"},
        {"cname": "blosclz", "clevel": 9, "shuffle": "shuffle", "blocksize": 2**17},
    ],
)
@pytest.mark.parametrize(
    "length, max_points, features, short",
    [(230, 2000, 5, 0), (600, 1000, 4, 117), (9, 90_001, 3, 0), (2300, 256, 4, 1)],
)
@pytest.mark.parametrize("noise", [False, True])
def test_a_chunk_written_in_pieces_equals_the_chunk_written_whole(
    tmp_path, codec, length, max_points, features, short, noise
):
    rows = short or length  # a short last chunk is stored at full length
    block = _padded(rows, max_points, features, seed=length, noise=noise)
    arrays = []
    for name in ("whole", "pieces"):
        group = zarr.open_group(tmp_path / f"{name}.zarr", mode="w")
        arrays.append(
            group.create_array(
                "showers",
                shape=(length + rows if short else length, max_points, features),
                chunks=(length, max_points, features),
                dtype="float32",
                compressors=zarr.codecs.BloscCodec(typesize=4, **codec),
                fill_value=0,
            )
        )
    whole, pieces = arrays
    index = 1 if short else 0
    assert zarr_chunks.write_whole_chunks(whole, index * length, block)
    reads = []

    def fill(first, stop, out):  # out is a reused buffer: every value is written
        reads.append((first, stop))
        out[...] = block[first:stop]

    written = zarr_chunks.write_chunk_in_pieces(pieces, index, rows, fill)
    name = f"showers/c/{index}/0/0"
    assert written or noise  # compressible chunks are always spliced
    if written:
        assert (tmp_path / "pieces.zarr" / name).read_bytes() == (
            tmp_path / "whole.zarr" / name
        ).read_bytes()
        assert reads[0][0] == 0 and max(stop for _, stop in reads) == rows
        assert all(stop - first < length for first, stop in reads)  # never whole
    else:
        assert not (tmp_path / "pieces.zarr" / name).exists()
    assert not [p for p in tmp_path.rglob("*") if "partial" in p.name]


def test_a_chunk_too_small_for_pieces_is_left_to_the_whole_write(tmp_path):
    group = zarr.open_group(tmp_path / "s.zarr", mode="w")
    array = group.create_array(
        "showers",
        shape=(10, 100, 4),
        chunks=(10, 100, 4),
        dtype="float32",
        compressors=zarr.codecs.BloscCodec(cname="lz4", clevel=3, shuffle="shuffle"),
        fill_value=0,
    )
    assert not zarr_chunks.write_chunk_in_pieces(array, 0, 10, lambda *args: None)


def test_an_error_while_reading_a_piece_leaves_the_chunk_as_it_was(tmp_path):
    block = _padded(230, 2000, 5, seed=3)
    group = zarr.open_group(tmp_path / "s.zarr", mode="w")
    array = group.create_array(
        "showers",
        shape=block.shape,
        chunks=block.shape,
        dtype="float32",
        compressors=zarr.codecs.BloscCodec(cname="lz4", clevel=3, shuffle="shuffle"),
        fill_value=0,
    )
    assert zarr_chunks.write_whole_chunks(array, 0, block)
    before = (tmp_path / "s.zarr" / "showers/c/0/0/0").read_bytes()

    def fill(first, stop, out):
        if stop > 150:
            raise ShowerDataError("a bad row", path="source.h5", index=150)
        out[...] = 0

    with pytest.raises(ShowerDataError, match="a bad row"):
        zarr_chunks.write_chunk_in_pieces(array, 0, 230, fill)
    assert (tmp_path / "s.zarr" / "showers/c/0/0/0").read_bytes() == before
    assert not [p for p in tmp_path.rglob("*") if "partial" in p.name]
