"""The one file manager: a bounded cache of open read handles, per process.

Graph tasks carry locations, never handles; the first task in a process that
reads a file opens it here and later tasks reuse the handle. A handle is
reopened when the file at its path was replaced (writers replace files by
renaming a new one into place), dropped in a forked child (HDF5 handles must
not cross a fork), and the least recently used one is closed when more than
``showerdata.open-files`` are open.

HDF5 refuses to open a file for writing in a process that holds it open for
reading, so nothing stays open in the user's way: every read holds its handle
through :func:`opened`, and an HDF5 file is closed when its last read ends,
unless a computation on this process's local schedulers still runs (then it
stays open for that computation's next tasks and is closed when the last
computation ends) or the read is a task of a dask.distributed worker (which
keeps its files open); :func:`close_files` closes the rest. A user's
``h5py.File(path, "a")`` after ``load(path).compute()`` just works, also when
threads compute at once (dask's local schedulers can then lose track of the
callback that counts computations, see :class:`_CloseAfterComputing`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
from dask.callbacks import Callback

from .backends import backend_for, location_key

OPEN_FILES_KEY = "showerdata.open-files"
DEFAULT_OPEN_FILES = 128

_lock = threading.Lock()
_handles: OrderedDict[Any, tuple[Any, Any]] = OrderedDict()  # key: (identity, handle)
_readers: Counter[Any] = Counter()  # key: reads under way with the cached handle


def _forget_all_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _handles.clear()  # the parent's handles are not ours to close
    _readers.clear()


os.register_at_fork(after_in_child=_forget_all_after_fork)


def open_files_limit() -> int:
    """How many files a process keeps open (config ``showerdata.open-files``)."""
    return max(1, int(dask.config.get(OPEN_FILES_KEY, DEFAULT_OPEN_FILES)))


def handle(location: Any, writable: bool = False) -> Any:
    """A handle of ``location``, shared within this process.

    An :class:`h5py.File` for HDF5 files, an opened store for zarr; both are
    indexed by dataset name and have ``attrs``. Read only, or (``writable``,
    zarr only) for the write tasks of a save.
    """
    return _acquire(location, writable, hold=False)


def _acquire(location: Any, writable: bool, hold: bool) -> Any:
    """The cached handle of ``location`` (opened if needed); ``hold``: as one read."""
    backend = backend_for(location)
    key = (location_key(location), writable)
    identity = backend.identity(location)
    with _lock:
        cached = _handles.get(key)
        if cached is not None and cached[0] == identity and backend.is_open(cached[1]):
            _handles.move_to_end(key)
            if hold:
                _readers[key] += 1
            return cached[1]
    opened_handle = backend.open_reader(location, writable)
    with _lock:
        cached = _handles.get(key)
        if cached is not None and cached[0] == identity and backend.is_open(cached[1]):
            # Another thread opened it meanwhile, and may be using its handle.
            evicted = [opened_handle]
            opened_handle = cached[1]
        else:
            _handles.pop(key, None)
            _handles[key] = (identity, opened_handle)
            evicted = [cached[1]] if cached is not None else []
        if hold:
            _readers[key] += 1
        evicted += _pop_least_recently_used(len(_handles) - open_files_limit())
    for old in evicted:
        _close(old)
    return opened_handle


def _close(old: Any) -> None:
    close = getattr(old, "close", None)
    if close is not None:
        close()


@contextmanager
def opened(location: Any) -> Iterator[Any]:
    """The process's read handle of ``location``, held for one read.

    Tasks and eager reads alike read through this. A file that blocks other
    openers (HDF5) is closed when its last read ends, unless a computation
    on this process's local schedulers still runs; a zarr store blocks
    nobody and stays open for the reads that follow.
    """
    key = (location_key(location), False)
    reader = _acquire(location, writable=False, hold=True)
    try:
        yield reader
    finally:
        with _lock:
            _readers[key] -= 1
            if not _readers[key]:
                del _readers[key]
            cached = _handles.get(key)
            idle = (
                key not in _readers
                and not _computing.running
                and _blocks(reader)
                and not _in_distributed_worker()
                and cached is not None
                and cached[1] is reader
            )
            if idle:
                del _handles[key]
        if idle:
            _close(reader)
        if not _computing.running:
            # A no-op unless dask dropped it (see _CloseAfterComputing).
            _computing.register()


def _in_distributed_worker() -> bool:
    """Whether this thread runs a task of a dask.distributed worker.

    A worker keeps its files open for the tasks that follow (its local
    schedulers are not the user's, and nothing it opens is in their way).
    """
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def _blocks(opened_handle: Any) -> bool:
    """Whether a handle keeps others from opening its file (HDF5's do)."""
    return hasattr(opened_handle, "close")


def forget(location: Any) -> None:
    """Close and drop the handle of ``location`` (before writing to it)."""
    key = location_key(location)
    with _lock:
        cached = [_handles.pop((key, w), None) for w in (False, True)]
    for entry in cached:
        if entry is not None:
            _close(entry[1])


def close_files() -> None:
    """Close every file and store that showerdata holds open in this process.

    Reads open files as they need them and keep them open for the tasks that
    follow; call this to release them all (e.g. before another program
    writes to them). Nothing else is needed: the next read reopens them.
    """
    with _lock:
        held = list(_handles.values())
        _handles.clear()
    for _, old in held:
        _close(old)


def _pop_blocking() -> list[tuple[Any, Any]]:
    """Take out the handles that block other openers (HDF5); zarr stores stay.

    The caller holds ``_lock`` and closes what it gets.
    """
    blocking = [
        key
        for key, (_, opened_handle) in _handles.items()
        if _blocks(opened_handle) and not _readers[key]
    ]
    return [_handles.pop(key) for key in blocking]


def _pop_least_recently_used(count: int) -> list[Any]:
    """Take out up to ``count`` handles no read holds, least recently used first.

    The caller holds ``_lock`` and closes what it gets. Handles in use are
    kept: the bound is exceeded rather than a read broken.
    """
    idle = [key for key in _handles if not _readers[key]][: max(0, count)]
    return [_handles.pop(key)[1] for key in idle]


class _CloseAfterComputing(Callback):
    """Closes blocking files when no computation of this process runs any more.

    Registered with dask's global callbacks, which a local scheduler takes
    for itself while it runs and puts back when it ends: two threads whose
    computations overlap can leave it unregistered (the second puts back the
    empty set it found). :func:`opened` registers it again when no
    computation runs, and closes a file after each read while it is missing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.running = 0  # computations under way, counted under the module lock

    def _start(self, dsk: Any) -> None:
        self.enter()

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        self.leave()

    def enter(self) -> None:
        """A computation (or a run of reads, see :func:`kept_open`) begins."""
        with _lock:
            self.running += 1

    def leave(self) -> None:
        """It ends: if it was the last, close the blocking files no read holds."""
        with _lock:
            self.running -= 1
            held = _pop_blocking() if self.running == 0 else []
        for _, old in held:
            _close(old)


_computing = _CloseAfterComputing()
_computing.register()


@contextmanager
def kept_open() -> Iterator[None]:
    """Keep files open from one read to the next until the block ends.

    For a run of reads outside any dask computation (a loader's epoch), which
    would otherwise close and reopen an HDF5 file at every read. At the end,
    as at the end of a computation, HDF5 files no read holds are closed.
    """
    _computing.enter()
    try:
        yield
    finally:
        _computing.leave()


def open_locations() -> list[str]:
    """Locations with a handle open in this process (to see where reads ran)."""
    with _lock:
        return sorted(str(key) for key, _ in _handles)
