"""Gathering vlen rows straight from the bytes of an HDF5 file (see io/heap_rows.py).

A vlen element of an HDF5 dataset is stored as a 16-byte reference: the
sequence length (uint32), the address of a global heap collection (uint64) and
the object's index in it (uint32). A collection is ``"GCOL"``, a version byte,
3 reserved bytes and its size (uint64), then objects: index (uint16), reference
count (uint16), 4 reserved bytes, size (uint64) and the data padded to 8 bytes
(HDF5 file format specification, "Global Heap"). All fields are little-endian.

The kernels read those bytes and copy the floats into padded blocks without the
GIL; anything they do not recognise is reported, never guessed at, and the
caller falls back to h5py.
"""

from __future__ import annotations

import numpy as np

from .jit import kernel
from .layout import ENERGY, has_suspect_value

#: A vlen row's reference: sequence length (4 bytes), address of its global
#: heap collection (8) and index in the collection (4); all zeros is an empty
#: row, which is what rows never written hold.
REFERENCE_BYTES = 16
COLLECTION_HEADER = 16
OBJECT_HEADER = 16
FLOAT_BYTES = 4


@kernel(nogil=True, cache=True, inline="always")
def _uint(data: np.ndarray, at: int, size: int) -> int:
    value = 0
    for k in range(size - 1, -1, -1):
        value = (value << 8) | data[at + k]
    return value


@kernel(nogil=True, cache=True, inline="always")
def _is_collection(data: np.ndarray, at: int) -> bool:
    # "GCOL", version 1
    return (
        at + COLLECTION_HEADER <= len(data)
        and data[at] == 71
        and data[at + 1] == 67
        and data[at + 2] == 79
        and data[at + 3] == 76
        and data[at + 4] == 1
    )


@kernel(nogil=True, cache=True)
def _find_object(data: np.ndarray, at: int, end: int, index: int) -> int:
    # Position of the header of object ``index`` between ``at`` and ``end``, or -1.
    while at + OBJECT_HEADER <= end:
        object_index = _uint(data, at, 2)
        size = _uint(data, at + 8, 8)
        # Sizes past the collection (or past 2**63, read as negative) are damage.
        if object_index == 0 or size < 0 or size > end - at - OBJECT_HEADER:
            return -1  # index 0 is the free space that closes the collection
        if object_index == index:
            return at
        at += OBJECT_HEADER + ((size + 7) & ~7)
    return -1


@kernel(nogil=True, cache=True)
def gather_heap_rows(
    data: np.ndarray,
    floats: np.ndarray,
    references: np.ndarray,
    out: np.ndarray,
    starts: np.ndarray,
    limit: int,
    features: int,
    suspect: np.ndarray,
    pad: bool,
) -> tuple[int, int, int]:
    """Copy the rows behind ``references`` into the flat float32 array ``out``.

    Row ``i`` goes to ``out[starts[i]:]``, at most ``limit`` floats of it (the
    rest is cut off: a padded block has room for P points). With ``pad``, the
    floats after each row up to ``starts[i] + limit`` are set to zero (a
    reused block need not be cleared first); a row that is not verified is
    left as it was, as are the rows after it. ``data`` is the
    whole file as bytes, ``floats`` the same bytes as float32 (for data at
    addresses that are a multiple of 4), ``references`` the rows' 16-byte
    references. Returns ``(failed, low, high)``: -1 or the position of the
    first row whose heap object is not where and what its reference says, and
    the range of bytes of ``data`` read (``low > high`` if none).

    With ``features`` > 0 each copied row, points of ``features`` values, is
    screened while it is in the cache: ``suspect[i]`` is set where a value is
    not finite or an energy is not positive, the only rows
    :func:`~showerdata.kernels.layout.first_invalid_shower` can reject in a
    block padded by us.
    """
    size = len(data)
    low, high = size, 0
    last_collection = -1
    collection_end = 0
    cursor = 0  # where the object after the last one found starts
    cursor_index = 0  # index of the last object found
    for i in range(references.shape[0]):
        length = _uint(references[i], 0, 4)
        if length == 0:
            if pad:
                out[starts[i] : starts[i] + limit] = 0
            continue
        address = _uint(references[i], 4, 8)
        index = _uint(references[i], 12, 4)
        if address != last_collection:
            if address < 0 or not _is_collection(data, address):
                return i, low, high
            collection_size = _uint(data, address + 8, 8)
            if collection_size < COLLECTION_HEADER or collection_size > size - address:
                return i, low, high
            collection_end = address + collection_size
            low, high = min(low, address), max(high, collection_end)
            last_collection = address
            cursor, cursor_index = address + COLLECTION_HEADER, 0
        # Rows are mostly stored in order: search on from the last object
        # found, then from the start of the collection.
        found = -1
        if index > cursor_index:
            found = _find_object(data, cursor, collection_end, index)
        if found < 0:
            begin = last_collection + COLLECTION_HEADER
            found = _find_object(data, begin, collection_end, index)
        if found < 0:
            return i, low, high
        object_size = _uint(data, found + 8, 8)  # within the collection
        start = found + OBJECT_HEADER
        if object_size != length * FLOAT_BYTES:
            return i, low, high
        cursor = start + ((object_size + 7) & ~7)
        cursor_index = index
        values = min(length, limit)
        target = starts[i]
        if start % FLOAT_BYTES == 0:
            first = start // FLOAT_BYTES
            out[target : target + values] = floats[first : first + values]
        else:
            view = out[target : target + values].view(np.uint8)
            view[:] = data[start : start + values * FLOAT_BYTES]
        end = target + values
        if pad:
            out[end : starts[i] + limit] = 0
        if features > 0 and has_suspect_value(
            out, target, end, target + ENERGY, features
        ):
            suspect[i] = 1
    return -1, low, high
