"""Reading and writing whole chunks of a local zarr store with numcodecs.

zarr-python decodes every chunk into a buffer of its own and copies it into
the result through its async machinery, which costs several times the
decompression itself for the large dense chunks of ``showers`` (1.4 s against
0.25 s for 760 MB here); writing, it first copies the rows into a new chunk
buffer. For the layout showerdata writes -- a local store, chunks encoded by
little-endian bytes and Blosc only -- the chunk files can be decompressed by
numcodecs straight into the rows of the result, a thread per chunk (Blosc
releases the GIL), and whole chunks encoded straight from the rows given. Any
other array, or rows that cover chunks in part, go through zarr.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import zarr
from numcodecs import Blosc, blosc
from zarr.codecs import BloscCodec, BytesCodec
from zarr.storage import LocalStore

from ..buffers import zeros
from ..kernels.layout import copy_real_points
from ..replacing import replacing
from .zarr_store import chunk_file, chunk_length, store_root

BLOSC_HEADER = 16  # version, codec version, flags, type size, then 3 uint32 sizes
BLOSC_OVERHEAD = 2**16  # room beyond the data for the header and block offsets


def decodes_directly(array: zarr.Array) -> bool:
    """Whether :func:`read_points_into` can read ``array``."""
    metadata = array.metadata
    codecs = getattr(metadata, "codecs", ())
    return (
        sys.byteorder == "little"
        and metadata.zarr_format == 3
        and isinstance(array.store_path.store, LocalStore)
        and len(codecs) == 2
        and isinstance(codecs[0], BytesCodec)
        and getattr(codecs[0].endian, "value", "little") == "little"
        and isinstance(codecs[1], BloscCodec)
        and array.order == "C"
        and getattr(metadata, "chunk_key_encoding", None) is not None
        and metadata.chunk_key_encoding.name == "default"
        and metadata.chunk_key_encoding.separator == "/"
    )


class _Buffers:
    """Scratch buffers for one chunk (its file's bytes and the decoded chunk).

    Kept for reuse across chunks and calls, at most one per core: fresh memory
    would cost a page fault per page on every chunk (the reading threads come
    and go with their pools, so the buffers are not tied to a thread). They
    come from :func:`showerdata.buffers.zeros`, without numpy's huge-page
    advice (see there).
    """

    _free: list[_Buffers] = []
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.encoded = np.empty(0, np.uint8)
        self.decoded = np.empty(0, np.uint8)

    @classmethod
    @contextmanager
    def borrowed(cls) -> Iterator[_Buffers]:
        with cls._lock:
            buffers = cls._free.pop() if cls._free else cls()
        try:
            yield buffers
        finally:
            with cls._lock:
                if len(cls._free) < (os.cpu_count() or 1):
                    cls._free.append(buffers)

    def decoded_chunk(
        self, length: int, row_shape: tuple[int, ...], dtype: np.dtype
    ) -> np.ndarray:
        """A buffer for one decoded chunk of ``length`` rows."""
        shape = (length, *row_shape)
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if self.decoded.nbytes < size:
            self.decoded = zeros((size,), np.uint8)
        return self.decoded[:size].view(dtype).reshape(shape)

    def read_file(self, path: str, capacity: int) -> memoryview:
        """The bytes of a chunk file; room for ``capacity`` is made at once."""
        with open(path, "rb", buffering=0) as handle:
            size = os.fstat(handle.fileno()).st_size
            if self.encoded.nbytes < size:
                self.encoded = zeros((max(size, capacity),), np.uint8)
            view = memoryview(self.encoded)
            read = 0
            while read < size:
                got = handle.readinto(view[read:size])
                if not got:
                    break
                read += got
            return view[:read]


def _decoded_size(encoded: memoryview) -> int | None:
    """Size the Blosc frame says it decodes to (header bytes 4-7), if it is one.

    The frame's own length is in bytes 12-15; a file of another length is
    truncated or not a frame.
    """
    if len(encoded) < BLOSC_HEADER:
        return None
    if int.from_bytes(encoded[12:16], "little") != len(encoded):
        return None
    return int.from_bytes(encoded[4:8], "little")


def read_points_into(
    array: zarr.Array, start: int, out: np.ndarray, counts: np.ndarray
) -> int | None:
    """Read rows ``start : start + len(out)`` of a points array into ``out``.

    ``out`` must be zero-filled and ``counts`` hold the points of each row.
    Each chunk is decoded into a buffer of the thread and only the first
    ``counts[i]`` points of a row are copied, so pages of ``out`` that only
    padding would fill are never touched (first-touch page faults cost more
    than the decompression). A row whose stored padding is not zero is copied
    whole, so ``out`` ends up equal to the stored rows either way.

    Returns the number of rows with non-zero stored padding (0: the padding
    needs no further check), or None, having read rows only partly, where a
    chunk is not what the array's metadata says (zarr then reads the rows and
    reports the problem). A chunk without a file reads as zeros, its fill
    value; the caller checks first that such chunks are not recorded as
    written.
    """
    if (
        out.dtype != array.dtype
        or out.shape[1:] != array.shape[1:]
        or out.ndim != 3
        or not out.flags.c_contiguous
        or array.fill_value != 0
        or len(counts) != len(out)
    ):
        return None
    length = chunk_length(array)
    stop = start + len(out)
    chunks = range(start // length, -(-stop // length)) if len(out) else range(0)
    root = store_root(array)
    row_bytes = out[0].nbytes if len(out) else 0
    counts = np.asarray(counts, np.int64)

    def read(index: int) -> int | None:
        first = index * length
        low, high = max(first, start), min(first + length, stop)
        with _Buffers.borrowed() as buffers:
            try:
                encoded = buffers.read_file(
                    chunk_file(root, array.path, array.ndim, index),
                    # Blosc stores incompressible blocks as they are.
                    capacity=length * row_bytes + BLOSC_OVERHEAD,
                )
            except FileNotFoundError:
                return 0  # out is zero already
            if _decoded_size(encoded) != length * row_bytes:
                return None
            decoded = buffers.decoded_chunk(length, out.shape[1:], out.dtype)
            blosc.decompress(encoded, decoded)
            return copy_real_points(
                decoded[low - first : high - first],
                out[low - start : high - start],
                counts[low - start : high - start],
            )

    if len(chunks) <= 1:
        found = [read(index) for index in chunks]
    else:
        workers = min(len(chunks), os.cpu_count() or 1)
        with ThreadPoolExecutor(workers, thread_name_prefix="showerdata-zarr") as pool:
            found = list(pool.map(read, chunks))
    if any(f is None for f in found):
        return None
    return sum(found)  # type: ignore[arg-type]


_SHUFFLES = {"noshuffle": blosc.NOSHUFFLE, "shuffle": blosc.SHUFFLE}


def _encoder(array: zarr.Array) -> Blosc | None:
    """The Blosc compressor of ``array`` as numcodecs, if we can write its chunks."""
    codec = array.metadata.codecs[1]  # type: ignore[union-attr]
    shuffle = _SHUFFLES.get(getattr(codec.shuffle, "value", None), None)
    cname = getattr(codec.cname, "value", None)
    if shuffle is None or cname is None or codec.typesize != array.dtype.itemsize:
        return None
    return Blosc(
        cname=cname,
        clevel=int(codec.clevel),
        shuffle=shuffle,
        blocksize=int(codec.blocksize),
        typesize=int(codec.typesize),
    )


def write_whole_chunks(array: zarr.Array, start: int, values: np.ndarray) -> bool:
    """Store rows ``start ...`` of ``array`` chunk file by chunk file, if we can.

    For arrays :func:`decodes_directly` accepts, when the rows cover whole
    chunks (the last chunk of the array may be short): each chunk is encoded
    by numcodecs as zarr would encode it, with no copy into a chunk buffer
    of zarr's, and written to a temporary file renamed into place, so a
    reader sees the old chunk or the new one. Returns False, writing nothing,
    otherwise; zarr then writes the rows.
    """
    length, total = chunk_length(array), int(array.shape[0])
    stop = start + len(values)
    if (
        not decodes_directly(array)
        or tuple(array.chunks[1:]) != tuple(array.shape[1:])
        or values.dtype != array.dtype
        or values.shape[1:] != array.shape[1:]
        or values[:1].nbytes == 0  # zarr stores no chunks of empty rows
        or start % length
        or (stop % length and stop != total)
        or stop > total
    ):
        return False
    encoder = _encoder(array)
    if encoder is None:
        return False
    root = store_root(array)
    for first in range(start, stop, length):
        rows = values[first - start : first - start + length]
        if len(rows) < length:  # the short last chunk is stored at full size
            whole = zeros((length, *rows.shape[1:]), rows.dtype)
            whole[: len(rows)] = rows
            rows = whole
        path = chunk_file(root, array.path, array.ndim, first // length)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        encoded = encoder.encode(np.ascontiguousarray(rows))
        with replacing(path) as partial, open(partial, "wb") as handle:
            handle.write(encoded)
    return True
