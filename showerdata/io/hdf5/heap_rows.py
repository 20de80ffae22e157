"""Reading vlen rows of an HDF5 file from its bytes, without h5py's per-row objects.

h5py reads a vlen selection as one numpy array per row, holding the GIL
throughout; padding them is a second pass. For the plain layout that
showerdata (and 0.7) write -- a contiguous, unfiltered dataset of float32
sequences in a file without user block -- the rows can instead be copied from a
memory map of the file straight into the padded block by a numba kernel
(:func:`~showerdata.kernels.heap.gather_heap_rows`) that releases the GIL, so
reads of several chunks run in parallel.

Only what the kernel verifies is used: a file of another layout, or a row whose
heap object is not what its reference says, is read through h5py instead, which
then reads it or raises its own error.
"""

from __future__ import annotations

import mmap
import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import h5py
import numpy as np

from ...indexing import Selection
from ...kernels.heap import REFERENCE_BYTES, gather_heap_rows
from ..files import open_files_limit

_DONT_NEED = getattr(mmap, "MADV_DONTNEED", None)
#: Bytes of one region of a map a thread reads before it unmaps them. An unmap
#: interrupts the process's other running threads (to flush their TLBs), so
#: it is done for several pieces at once. At most this much per thread and
#: region stays counted in the RSS.
RELEASE_BYTES = 8 * 2**20
_lock = threading.Lock()
# (path, inode, mtime, size, dataset) -> its HeapRows, or None when not applicable
# Least recently used first. Each map holds a file descriptor besides the
# file manager's handle of that file, so at most half as many maps are kept as
# handles (``showerdata.open-files``): a production of thousands of files then
# holds at most 1.5 times that many descriptors.
_maps: OrderedDict[tuple, HeapRows | None] = OrderedDict()


class _ReadSpan(threading.local):
    """Per thread: the bytes of one region of a map read since they were unmapped."""

    low = 0
    high = 0


@dataclass(frozen=True)
class HeapRows:
    """The bytes of one vlen dataset's file, and where its references lie."""

    mapped: mmap.mmap  # the whole file, read-only
    data: np.ndarray  # the same as uint8
    floats: np.ndarray  # the same bytes as float32
    references: np.ndarray  # (num_rows, 16) uint8: the dataset's raw data
    references_at: int  # their offset in the file
    # What each thread has read and not yet unmapped, of the heap and of the
    # references.
    _heap_read: _ReadSpan = field(default_factory=_ReadSpan, repr=False, compare=False)
    _references_read: _ReadSpan = field(
        default_factory=_ReadSpan, repr=False, compare=False
    )

    def lengths(self, selection: Selection) -> np.ndarray:
        """Number of floats in each selected row, from the references alone."""
        references = self._references(selection)
        return references[:, :4].copy().view("<u4").reshape(-1).astype(np.int64)

    def _references(self, selection: Selection) -> np.ndarray:
        references = np.ascontiguousarray(self.references[selection])
        if len(references):
            if isinstance(selection, slice):
                rows = range(len(self.references))[selection]
                first, last = min(rows), max(rows) + 1
            else:
                first, last = int(selection.min()), int(selection.max()) + 1
            self._release(
                self._references_read,
                self.references_at + REFERENCE_BYTES * first,
                self.references_at + REFERENCE_BYTES * last,
            )
        return references

    def _release(self, span: _ReadSpan, low: int, high: int) -> None:
        # The pages read stay in the page cache, but would otherwise count in
        # this process's resident memory until the whole file had been read.
        if _DONT_NEED is None:  # not Linux or macOS
            return
        if span.high > span.low:
            low, high = min(low, span.low), max(high, span.high)
        if high - low < RELEASE_BYTES:
            span.low, span.high = low, high
            return
        span.low = span.high = 0
        low -= low % mmap.PAGESIZE
        self.mapped.madvise(_DONT_NEED, low, high - low)

    def gather(
        self,
        selection: Selection,
        num_features: int,
        out: np.ndarray,
        suspect: np.ndarray | None = None,
        zeroed: bool = True,
    ) -> bool:
        """Copy the selected rows into the padded block ``out``.

        ``out`` holds zeros already, or (``zeroed=False``) whatever: the
        padding is then written too. Rows must hold whole points (checked by
        the caller against num_points); rows longer than ``out``'s point axis
        are cut to it. Returns False if a row could not be verified (``out``
        then holds part of the rows). ``suspect`` (uint8, one per row), if
        given, is set for rows with a point that is not finite or has no
        positive energy (see :func:`~showerdata.kernels.heap.gather_heap_rows`).
        """
        if not out.flags.c_contiguous:
            raise ValueError("gather() fills C-contiguous blocks only.")
        row_floats = out.shape[1] * num_features
        starts = np.arange(len(out), dtype=np.int64) * row_floats
        features = 0 if suspect is None else num_features  # 0: no screening
        return self._gather(
            selection,
            out.reshape(-1),
            starts,
            row_floats,
            features,
            suspect,
            pad=not zeroed,
        )

    def gather_flat(
        self, selection: Selection, out: np.ndarray, starts: np.ndarray
    ) -> bool:
        """Copy selected row ``i`` whole to ``out[starts[i]:]`` (flat float32).

        Returns False if a row could not be verified.
        """
        return self._gather(selection, out, np.asarray(starts, np.int64), 2**62)

    def _gather(
        self,
        selection: Selection,
        out: np.ndarray,
        starts: np.ndarray,
        limit: int,
        features: int = 0,
        suspect: np.ndarray | None = None,
        pad: bool = False,
    ) -> bool:
        references = self._references(selection)
        if suspect is None:
            suspect = np.zeros(0, np.uint8)
        failed, low, high = gather_heap_rows(
            self.data,
            self.floats,
            references,
            out,
            starts,
            limit,
            features,
            suspect,
            pad,
        )
        if low < high:
            self._release(self._heap_read, low, high)
        return failed < 0


def heap_rows(file: h5py.File, name: str) -> HeapRows | None:
    """The :class:`HeapRows` of dataset ``name`` of an open file, or None.

    None when the dataset is not of the plain layout the kernel reads (then use
    h5py). Cached per file version: a replaced file is mapped anew.
    """
    path = os.path.abspath(file.filename)
    st = os.stat(path)
    key = (path, st.st_ino, st.st_mtime_ns, st.st_size, name)
    with _lock:
        if key in _maps:
            _maps.move_to_end(key)
            return _maps[key]
    found = _map_dataset(file, name, path, st.st_size)
    with _lock:
        for old in [k for k in _maps if k[0] == path and k != key]:
            del _maps[old]
        _maps[key] = found
        # A map in use elsewhere stays valid: it closes when the last user drops it.
        while len(_maps) > max(1, open_files_limit() // 2):
            _maps.popitem(last=False)
    return found


def reference_offset(dataset: h5py.Dataset) -> int | None:
    """Where the 16-byte vlen references of ``dataset`` start in its file.

    None unless the dataset is stored contiguously, unfiltered, as references
    of 8-byte heap addresses (the layout h5py gives showerdata's files).
    """
    offset = dataset.id.get_offset()  # past any user block; None if not contiguous
    if (
        offset is None
        or h5py.check_vlen_dtype(dataset.dtype) is None
        or dataset.chunks is not None
        or dataset.id.get_storage_size() != REFERENCE_BYTES * len(dataset)
        or dataset.file.id.get_create_plist().get_sizes() != (8, 8)
    ):
        return None
    return offset


#: Where superblock versions 0, 1 and 2/3 keep the end-of-allocation address.
_END_OF_ALLOCATION_AT = {0: 40, 1: 44, 2: 28, 3: 28}


def end_of_allocation(data: np.ndarray) -> int | None:
    """The file's end-of-allocation address from its superblock, if at offset 0.

    Bytes past it belong to no object yet (a writer killed before closing
    the file may have left heap collections there), so they are never read.
    """
    if len(data) < 64 or bytes(data[:8]) != b"\x89HDF\r\n\x1a\n":
        return None
    at = _END_OF_ALLOCATION_AT.get(int(data[8]))
    if at is None:
        return None
    return int.from_bytes(bytes(data[at : at + 8]), "little")


def _map_dataset(file: h5py.File, name: str, path: str, size: int) -> HeapRows | None:
    dataset = file[name]
    base = h5py.check_vlen_dtype(dataset.dtype)
    offset = reference_offset(dataset) if dataset.ndim == 1 else None
    plain = (
        sys.byteorder == "little"  # the kernel copies the file's bytes as they are
        # A file open for writing may hold rows HDF5 has not flushed yet.
        and file.mode == "r"
        and base is not None
        and np.dtype(base) == np.dtype("<f4")
        and offset is not None
        and file.userblock_size == 0
        and file.driver == "sec2"
        and 0 < offset + REFERENCE_BYTES * len(dataset) <= size
    )
    if not plain:
        return None
    try:
        with open(path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # a file system without memory maps: use h5py
        return None
    data = np.frombuffer(mapped, dtype=np.uint8)
    allocated = end_of_allocation(data)
    if allocated is None or offset + REFERENCE_BYTES * len(dataset) > allocated:
        return None
    data = data[: min(allocated, size)]
    floats = data[: len(data) // 4 * 4].view(np.float32)
    references = data[offset : offset + REFERENCE_BYTES * len(dataset)].reshape(
        -1, REFERENCE_BYTES
    )
    return HeapRows(mapped, data, floats, references, offset)


def forget_maps(path: str | os.PathLike[str]) -> None:
    """Drop the memory maps of ``path`` (before it is written in place)."""
    path = os.path.abspath(os.fspath(path))
    with _lock:
        for key in [k for k in _maps if k[0] == path]:
            del _maps[key]
