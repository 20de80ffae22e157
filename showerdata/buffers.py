"""Zero-filled blocks that reuse the memory of blocks nobody holds any more.

Every op returns a new padded block of points (tens of MiB), and a new numpy
array is fresh memory: the kernel faults it in and clears it page by page on
first touch. numpy advises huge pages for large arrays, so 2 MiB are cleared
at a time even where only a few real points are written. First touches cost
several times what clearing memory that is already mapped does, and in a
load -> filter -> cluster -> save pipeline more than the kernels themselves
(see docs/performance.md).

:func:`zeros` keeps a short free list of anonymous memory maps instead. When the
last view of a block dies its map goes back to the list, and the next block of
the same size is cleared with one ``memset`` over memory that is already mapped.
Small blocks are plain ``np.zeros``.

Blocks are kept for reuse only while a computation runs (a dask computation on
a local scheduler in this process, or a :func:`reusing` block): when the last
one ends the free list is returned to the system, and a block dropped later
(a result the user deletes) is unmapped at once.
"""

from __future__ import annotations

import math
import mmap
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from dask.callbacks import Callback

#: Blocks below this size come from numpy: faults are cheap there, reuse is not.
MIN_POOLED_BYTES = 4 * 2**20

#: Memory held by free maps at most; more is returned to the system.
MAX_FREE_BYTES = 512 * 2**20

#: Larger blocks are mostly one-offs (a whole file computed at once) that are
#: written sparsely: they get fresh maps, faulted in only where written, and
#: are never reused (clearing one would touch every page).
MAX_POPULATED_BYTES = MAX_FREE_BYTES // 4

_lock = threading.RLock()  # a finalizer may run inside the lock, on a GC pass
_free: dict[int, list[mmap.mmap]] = {}
_free_bytes = 0
_reusers = 0  # computations under way: blocks freed now are kept for them


def zeros(shape: Sequence[int], dtype: np.typing.DTypeLike = np.float32) -> np.ndarray:
    """A C-contiguous array of zeros, like ``np.zeros(shape, dtype)``.

    Chunk-sized arrays are backed by a reused memory map, so writing into them
    costs no page faults once the first few blocks of a pipeline have been
    freed; whole results get a fresh map (see :data:`MAX_POPULATED_BYTES`).
    """
    return _pooled(shape, dtype, clear=True)


def empty(shape: Sequence[int], dtype: np.typing.DTypeLike = np.float32) -> np.ndarray:
    """Like :func:`zeros`, for buffers to be overwritten: reuse skips the clearing."""
    return _pooled(shape, dtype, clear=False)


def _pooled(
    shape: Sequence[int], dtype: np.typing.DTypeLike, clear: bool
) -> np.ndarray:
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_POOLED_BYTES:
        return np.zeros(shape, dtype) if clear else np.empty(shape, dtype)
    if nbytes > MAX_POPULATED_BYTES:
        return np.frombuffer(_new_map(nbytes), dtype).reshape(shape)
    memory = _take(nbytes)
    owner = np.frombuffer(memory if memory is not None else _new_map(nbytes), np.uint8)
    if memory is not None and clear:
        owner.fill(0)  # a fresh map is zero already, and faulted in only where written
    finalizer = weakref.finalize(owner, _give_back, owner.base.obj)  # type: ignore[union-attr]
    finalizer.atexit = False
    # Views keep ``owner`` alive, so the map returns only when the last one is gone.
    return owner.view(dtype).reshape(shape)


def free_bytes() -> int:
    """Bytes held by free maps waiting to be reused."""
    return _free_bytes


def release_free() -> None:
    """Return every free map to the system."""
    global _free_bytes
    with _lock:
        _free.clear()
        _free_bytes = 0


def _new_map(nbytes: int) -> mmap.mmap:
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    if nbytes <= MAX_POPULATED_BYTES:
        # Fault every page in now, in one call: a page that is only read before
        # the map is reused would be the shared zero page, and clearing it for
        # reuse would cost a copy-on-write fault and a TLB flush on every CPU.
        flags |= getattr(mmap, "MAP_POPULATE", 0)
    return mmap.mmap(-1, nbytes, flags=flags)


def _take(nbytes: int) -> mmap.mmap | None:
    global _free_bytes
    with _lock:
        maps = _free.get(nbytes)
        if not maps:
            return None
        _free_bytes -= nbytes
        return maps.pop()


def _give_back(memory: mmap.mmap) -> None:
    global _free_bytes
    with _lock:
        if _reusers and _free_bytes + len(memory) <= MAX_FREE_BYTES:
            _free.setdefault(len(memory), []).append(memory)
            _free_bytes += len(memory)
    # Otherwise the map is unmapped when the dying block lets go of its buffer
    # (it still holds it while this runs, so it cannot be closed here).


@contextmanager
def reusing() -> Iterator[None]:
    """Keep freed blocks for reuse inside the block (as during a computation)."""
    _start_reusing()
    try:
        yield
    finally:
        _stop_reusing()


def _start_reusing() -> None:
    global _reusers
    with _lock:
        _reusers += 1


def _stop_reusing() -> None:
    global _reusers
    with _lock:
        _reusers -= 1
        idle = _reusers == 0
    if idle:
        release_free()


class _ReuseWhileComputing(Callback):
    """Keeps freed blocks while a local dask computation of this process runs."""

    def _start(self, dsk: Any) -> None:
        _start_reusing()

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        _stop_reusing()


_ReuseWhileComputing().register()
