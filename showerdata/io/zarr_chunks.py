"""Reading and writing whole chunks of a local zarr store with c-blosc itself.

zarr-python decodes every chunk into a buffer of its own and copies it into
the result through its async machinery, which costs several times the
decompression itself for the large dense chunks of ``showers`` (1.4 s against
0.25 s for 760 MB here); writing, it first copies the rows into a new chunk
buffer and numcodecs compresses that into new memory. For the layout
showerdata writes -- a local store, chunks encoded by little-endian bytes and
Blosc only -- chunk files are instead mapped and decoded block by block
straight into the rows of the result, a thread per chunk, and whole chunks
compressed straight from the rows given (see :mod:`.blosc_frames`) -- or,
for rows read from a file, read and compressed a few Blosc blocks at a time
(:func:`write_chunk_in_pieces`). Any other array, or rows that cover chunks
in part, go through zarr.
"""

from __future__ import annotations

import math
import mmap
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import zarr
from numcodecs import blosc
from zarr.codecs import BloscCodec, BytesCodec
from zarr.core.buffer.cpu import NDBuffer

from ..buffers import empty, zeros
from ..kernels.layout import PADDING_NOT_ZERO, scatter_real_values
from ..replacing import replacing, write_file, write_in_pieces
from ..validation import check_points
from . import blosc_frames
from .zarr_store import (
    check_chunks_present,
    chunk_file,
    chunk_length,
    has_chunk_files,
    store_root,
)

BLOSC_HEADER = 16  # version, codec version, flags, type size, then 3 uint32 sizes
BLOSC_OVERHEAD = 2**16  # room beyond the data for the header and block offsets


def decodes_directly(array: zarr.Array) -> bool:
    """Whether :func:`read_points_into` can read ``array``."""
    codecs = getattr(array.metadata, "codecs", ())
    return (
        sys.byteorder == "little"
        and has_chunk_files(array)
        and len(codecs) == 2
        and isinstance(codecs[0], BytesCodec)
        and getattr(codecs[0].endian, "value", "little") == "little"
        and isinstance(codecs[1], BloscCodec)
        and array.order == "C"
    )


#: Decoded bytes per call into c-blosc: a block or two (256 KiB at level 3),
#: so that the calls cost little per byte while the buffer, with c-blosc's
#: own temporaries, stays in a core's 2 MiB of L2 cache. With 256 KiB blocks,
#: 512 KiB runs read the benchmark store 8 % faster than 2 MiB runs (chosen
#: for level 5's 512 KiB blocks) in paired fresh-process runs; one block a
#: call and three are level with two.
DECODED_RUN_BYTES = 2**19


#: Reads decoding less than this run in the calling thread: the per-shower
#: arrays (a few bytes a row) decode in less time than starting threads takes.
THREADED_READ_BYTES = 8 * 2**20


def _mapped(path: str) -> np.ndarray:
    """The bytes of a chunk file, mapped from the page cache rather than copied.

    The map is unmapped when the array dies. Writers replace chunk files by
    renaming new ones into place (ours and zarr's), so a mapped file never
    changes under a reader.
    """
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return np.empty(0, np.uint8)
        memory = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ)
    return np.frombuffer(memory, np.uint8)


def _read_chunks(
    array: zarr.Array,
    start: int,
    stop: int,
    read_chunk: Callable[[int, np.ndarray | None], bool],
) -> bool:
    """Call ``read_chunk(index, frame)`` for the chunks of rows ``start:stop``.

    ``frame`` is the mapped chunk file, or None where the chunk has no file.
    Chunks of :data:`THREADED_READ_BYTES` and more are read a thread each
    (Blosc runs without the GIL). Returns whether every call returned True.
    """
    length = chunk_length(array)
    chunks = range(start // length, -(-stop // length)) if stop > start else range(0)
    root = store_root(array)

    def read(index: int) -> bool:
        try:
            frame = _mapped(chunk_file(root, array.path, array.ndim, index))
        except FileNotFoundError:
            frame = None
        return read_chunk(index, frame)

    decoded = (stop - start) * math.prod(array.shape[1:]) * array.dtype.itemsize
    if len(chunks) <= 1 or decoded < THREADED_READ_BYTES:
        return all([read(index) for index in chunks])
    workers = min(len(chunks), os.cpu_count() or 1)
    with ThreadPoolExecutor(workers, thread_name_prefix="showerdata-zarr") as pool:
        return all(list(pool.map(read, chunks)))


def _decode_blocks(
    frame: np.ndarray,
    decoded_bytes: int,
    byte_range: tuple[int, int],
    dtype: np.dtype,
    use_block: Callable[[np.ndarray, int], None],
) -> bool:
    """Decode the Blosc blocks of ``frame`` that hold bytes ``byte_range``.

    Runs of blocks of about :data:`DECODED_RUN_BYTES` are decoded into one
    small buffer, which stays in the CPU cache, and given to
    ``use_block(values, item)`` with the position of their first item in the
    chunk. Returns False for a frame that is not a chunk of
    ``decoded_bytes`` bytes of ``dtype`` or does not decode.
    """
    header = blosc_frames.FrameHeader.parse(frame)
    if header is None or header.nbytes != decoded_bytes:
        return False
    if header.blocksize % dtype.itemsize:
        return False
    low, high = byte_range
    first, stop = low // header.blocksize, -(-high // header.blocksize)
    run = max(1, min(DECODED_RUN_BYTES // header.blocksize, stop - first))
    scratch = np.empty(run * header.blocksize // dtype.itemsize, dtype)
    for block in range(first, stop, run):
        try:
            size = blosc_frames.decode_blocks(
                frame, header, block, min(run, stop - block), scratch
            )
        except ValueError:
            return False
        use_block(
            scratch[: size // dtype.itemsize],
            block * header.blocksize // dtype.itemsize,
        )
    return True


def _readable_into(array: zarr.Array, out: np.ndarray) -> bool:
    return (
        blosc_frames.AVAILABLE
        and out.dtype == array.dtype
        and out.shape[1:] == array.shape[1:]
        and out.flags.c_contiguous
        and array.fill_value == 0
        and decodes_directly(array)
    )


def read_rows_into(array: zarr.Array, start: int, out: np.ndarray) -> bool:
    """Read rows ``start : start + len(out)`` of ``array`` into ``out``, if we can.

    For arrays :func:`decodes_directly` accepts; returns False, having
    written ``out`` only partly, otherwise or where a chunk is not what the
    array's metadata says (zarr then reads the rows and reports the problem).
    """
    if not _readable_into(array, out):
        return False
    length = chunk_length(array)
    row_bytes = out[0].nbytes if len(out) else 0
    stop = start + len(out)
    flat = out.reshape(-1).view(np.uint8)

    def read_chunk(index: int, frame: np.ndarray | None) -> bool:
        first = index * length
        low, high = max(first, start), min(first + length, stop)
        if frame is None:
            out[low - start : high - start] = 0  # the fill value
            return True
        origin = (first - start) * row_bytes  # the chunk's first byte in flat

        def copy(values: np.ndarray, item: int) -> None:
            data = values.view(np.uint8)
            begin = origin + item * out.dtype.itemsize
            lo, hi = max(begin, 0), min(begin + len(data), len(flat))
            if hi > lo:
                flat[lo:hi] = data[lo - begin : hi - begin]

        return _decode_blocks(
            frame,
            length * row_bytes,
            ((low - first) * row_bytes, (high - first) * row_bytes),
            out.dtype,
            copy,
        )

    return _read_chunks(array, start, stop, read_chunk)


def read_rows(
    group: zarr.Group,
    array: zarr.Array,
    selection: Any,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``array[selection]`` for a forward slice or sorted unique row indices.

    ``out``, for a slice of step 1, receives the rows directly (no copy).
    Such slices are decoded by :func:`read_rows_into` where it can.
    """
    check_chunks_present(group, array, selection)
    if isinstance(selection, slice) and selection.step in (None, 1):
        first, last, _ = selection.indices(array.shape[0])
        rows = out
        if rows is None:
            rows = np.empty((max(last - first, 0), *array.shape[1:]), array.dtype)
        if read_rows_into(array, first, rows):
            return rows
    if isinstance(selection, slice):
        if out is not None and selection.step == 1:
            array.get_basic_selection(selection, out=NDBuffer.from_numpy_array(out))
            return out
        return array[selection]
    return array.get_orthogonal_selection(np.asarray(selection))


def read_points_into(
    array: zarr.Array,
    start: int,
    out: np.ndarray,
    counts: np.ndarray,
    check: bool = False,
) -> int | None:
    """Read rows ``start : start + len(out)`` of a points array into ``out``.

    ``out`` must be zero-filled and ``counts`` hold the points of each row.
    Only the first ``counts[i]`` points of a row are copied from the decoded
    blocks, so pages of ``out`` that only padding would fill are never
    touched (first-touch page faults cost more than the decompression).

    With ``check``, the rows of each chunk are checked as they are copied:
    where a row has a point that could be bad, or non-zero padding, or its
    chunk has no file, :func:`~showerdata.validation.check_points` judges
    the chunk's rows in its thread; the error of the first bad row is
    raised, its index counted from ``out[0]``.

    Returns the number of rows with non-zero stored padding, which are
    copied whole (0: the padding needs no further check), or None, having
    read rows only partly, where a chunk is not what the array's metadata
    says (zarr then reads the rows and reports the problem). A chunk without
    a file reads as zeros, its fill value; the caller checks first that such
    chunks are not recorded as written.
    """
    if not _readable_into(array, out) or out.ndim != 3 or len(counts) != len(out):
        return None
    length = chunk_length(array)
    stop = start + len(out)
    row_bytes = out[0].nbytes if len(out) else 0
    counts = np.asarray(counts, np.int64)
    flat = out.reshape(len(out), math.prod(out.shape[1:]))
    flags = np.zeros(len(out), np.uint8)  # PADDING_NOT_ZERO | SUSPECT_POINT per row

    def read_chunk(index: int, frame: np.ndarray | None) -> bool:
        first = index * length
        low, high = max(first, start), min(first + length, stop)
        origin = (first - start) * flat.shape[1]  # the chunk's first item in flat

        def scatter(values: np.ndarray, item: int) -> None:
            bits = values.view(f"u{values.itemsize}")
            scatter_real_values(
                values, bits, origin + item, flat, counts, out.shape[2], flags
            )

        byte_range = ((low - first) * row_bytes, (high - first) * row_bytes)
        if frame is not None and not _decode_blocks(
            frame, length * row_bytes, byte_range, out.dtype, scatter
        ):
            return False
        rows = slice(low - start, high - start)
        if check and (frame is None or flags[rows].any()):
            check_points(
                out[rows],
                counts[rows],
                offset=rows.start,
                check_padding=bool((flags[rows] & PADDING_NOT_ZERO).any()),
            )
        return True

    if not _read_chunks(array, start, stop, read_chunk):
        return None
    return int(np.count_nonzero(flags & PADDING_NOT_ZERO))


_SHUFFLES = {"noshuffle": blosc.NOSHUFFLE, "shuffle": blosc.SHUFFLE}


def _chunk_settings(array: zarr.Array) -> dict[str, Any] | None:
    """The Blosc settings to write whole chunks of ``array`` with, if we can.

    That is an array :func:`decodes_directly` reads, chunked along showers
    only, with settings c-blosc takes as they are.
    """
    if (
        not blosc_frames.AVAILABLE
        or not decodes_directly(array)
        or tuple(array.chunks[1:]) != tuple(array.shape[1:])
    ):
        return None
    return _compression(array)


def _new_chunk_file(array: zarr.Array, index: int) -> str:
    """Path of chunk ``index`` of ``array``, its directory made."""
    path = chunk_file(store_root(array), array.path, array.ndim, index)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def _compression(array: zarr.Array) -> dict[str, Any] | None:
    """The Blosc settings of ``array``, if we can write its chunks."""
    codec = array.metadata.codecs[1]  # type: ignore[union-attr]
    shuffle = _SHUFFLES.get(getattr(codec.shuffle, "value", None), None)
    cname = getattr(codec.cname, "value", None)
    if shuffle is None or cname is None or codec.typesize != array.dtype.itemsize:
        return None
    return {
        "cname": cname,
        "clevel": int(codec.clevel),
        "shuffle": shuffle,
        "blocksize": int(codec.blocksize),
        "typesize": int(codec.typesize),
    }


def write_whole_chunks(array: zarr.Array, start: int, values: np.ndarray) -> bool:
    """Store rows ``start ...`` of ``array`` chunk file by chunk file, if we can.

    For arrays :func:`decodes_directly` accepts, when the rows cover whole
    chunks (the last chunk of the array may be short): each chunk is
    compressed as zarr would (the same bytes) but straight from the rows
    given into a reused buffer, with no copy into a chunk buffer of zarr's,
    and written to a temporary file renamed into place, so a reader sees the
    old chunk or the new one. Returns False, writing nothing, otherwise; zarr
    then writes the rows.
    """
    length, total = chunk_length(array), int(array.shape[0])
    stop = start + len(values)
    settings = _chunk_settings(array)
    if (
        settings is None
        or values.dtype != array.dtype
        or values.shape[1:] != array.shape[1:]
        or values[:1].nbytes == 0  # zarr stores no chunks of empty rows
        or start % length
        or (stop % length and stop != total)
        or stop > total
    ):
        return False
    for first in range(start, stop, length):
        rows = values[first - start : first - start + length]
        if len(rows) < length:  # the short last chunk is stored at full size
            whole = zeros((length, *rows.shape[1:]), rows.dtype)
            whole[: len(rows)] = rows
            rows = whole
        rows = np.ascontiguousarray(rows)
        frame = empty((rows.nbytes + blosc_frames.MAX_OVERHEAD,), np.uint8)
        size = blosc_frames.compress_into(rows, frame, **settings)
        write_file(_new_chunk_file(array, first // length), frame[:size])
    return True


#: Bytes of a chunk compressed at once by :func:`write_chunk_in_pieces`: a few
#: Blosc blocks, in a buffer that stays in the CPU caches with its frame. With
#: the per-piece costs cut (writes batched, pages unmapped in batches), 4 MiB
#: pieces converted the benchmark file 5 to 7 % faster than 2 MiB ones, and
#: 8 MiB ones no faster than 4 MiB.
PIECE_BYTES = 4 * 2**20
#: c-blosc 1 picks blocks of at most 1 MiB (see :class:`.blosc_frames.FrameSplicer`).
LARGEST_BLOCK = 2**20


class _NotSpliced(Exception):
    """The pieces' frames do not make the chunk's frame: compress it whole."""


def write_chunk_in_pieces(
    array: zarr.Array,
    index: int,
    rows: int,
    fill: Callable[[int, int, np.ndarray], None],
) -> bool:
    """Store chunk ``index`` of ``array`` without ever holding its padded block.

    ``fill(first, stop, out)`` reads rows ``first:stop`` of the chunk (counted
    from its first row, below ``rows``; a short last chunk is stored with
    zero rows after them) into ``out``, writing every value of it (``out`` is
    a reused buffer). The rows are
    read and compressed a piece of about :data:`PIECE_BYTES` at a time, in a
    buffer that stays in the CPU cache, and the pieces' frames are spliced
    into the chunk's (see :class:`.blosc_frames.FrameSplicer`): the bytes
    :func:`write_whole_chunks` writes, without the chunk's tens of MiB of
    padded block and frame. Returns False, having written nothing, where the
    array or chunk does not allow it; the caller then writes the whole block.
    Errors raised by ``fill`` leave the chunk as it was.
    """
    settings = _chunk_settings(array)
    row_bytes = math.prod(array.shape[1:]) * array.dtype.itemsize
    length = chunk_length(array)
    nbytes = length * row_bytes
    if (
        settings is None
        or row_bytes == 0
        or not 0 < rows <= length
        or settings["blocksize"] > LARGEST_BLOCK
        or nbytes <= PIECE_BYTES + 2 * LARGEST_BLOCK  # a piece or two: write it whole
    ):
        return False
    largest_piece = PIECE_BYTES + 2 * LARGEST_BLOCK
    staging = empty((largest_piece // row_bytes + 2, *array.shape[1:]), array.dtype)
    frame = empty(
        (largest_piece + blosc_frames.MAX_OVERHEAD + LARGEST_BLOCK,), np.uint8
    )
    splicer = blosc_frames.FrameSplicer(nbytes)

    def compressed(low: int, high: int) -> np.ndarray:
        first, stop = low // row_bytes, -(-high // row_bytes)
        block = staging[: stop - first]
        filled = max(0, min(stop, rows) - first)
        block[filled:] = 0  # rows past the data (a short last chunk): zeros
        if filled:
            fill(first, first + filled, block[:filled])
        flat = block.reshape(-1).view(np.uint8)
        piece = flat[low - first * row_bytes : high - first * row_bytes]
        size = blosc_frames.compress_into(piece, frame, **settings)
        data = splicer.add(frame[:size], len(frame))
        if data is None:
            raise _NotSpliced
        return data

    try:
        with (
            replacing(_new_chunk_file(array, index)) as partial,
            open(partial, "wb", buffering=0) as handle,
        ):
            fd = handle.fileno()
            data = compressed(0, PIECE_BYTES)
            blocksize = splicer.first.blocksize  # type: ignore[union-attr]
            if PIECE_BYTES % blocksize or blocksize > LARGEST_BLOCK:
                raise _NotSpliced
            write_in_pieces(fd, bytes(blosc_frames.HEADER_BYTES + 4 * splicer.blocks))
            write_in_pieces(fd, data)
            low = PIECE_BYTES
            while low < nbytes:
                # The last piece takes the short block with a whole one before it.
                high = (
                    nbytes
                    if nbytes - low <= PIECE_BYTES + blocksize
                    else low + PIECE_BYTES
                )
                write_in_pieces(fd, compressed(low, high))
                low = high
            head = splicer.head()
            if head is None:
                raise _NotSpliced
            os.lseek(fd, 0, os.SEEK_SET)
            write_in_pieces(fd, head)
    except _NotSpliced:
        return False
    return True
