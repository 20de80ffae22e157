"""The one file manager: a bounded cache of open read handles, per process.

Graph tasks carry locations, never handles; the first task in a process that
reads a file opens it here and later tasks reuse the handle. A handle is
reopened when the file at its path was replaced (writers replace files by
renaming a new one into place), dropped in a forked child (HDF5 handles must
not cross a fork), and the least recently used one is closed when more than
``showerdata.open-files`` are open.

HDF5 refuses to open a file for writing in a process that holds it open for
reading, so nothing stays open in the user's way: eager functions
(:func:`opened`) leave nothing open that was not open before, HDF5 files are
closed when the last computation on this process's local schedulers ends,
and :func:`close_files` closes the rest. A user's ``h5py.File(path, "a")``
after ``load(path).compute()`` just works.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
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


def _forget_all_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _handles.clear()  # the parent's handles are not ours to close


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
    backend = backend_for(location)
    key = (location_key(location), writable)
    identity = backend.identity(location)
    with _lock:
        cached = _handles.get(key)
        if cached is not None and cached[0] == identity and backend.is_open(cached[1]):
            _handles.move_to_end(key)
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
            while len(_handles) > open_files_limit():
                evicted.append(_handles.popitem(last=False)[1][1])
    for old in evicted:
        _close(old)
    return opened_handle


def _close(old: Any) -> None:
    close = getattr(old, "close", None)
    if close is not None:
        close()


@contextmanager
def opened(location: Any) -> Iterator[Any]:
    """A read handle for an eager read that leaves nothing open in a writer's way.

    A file that blocks other openers (HDF5) and was not open before is closed
    after the read; a zarr store blocks nobody and stays open for the reads
    that follow.
    """
    key = (location_key(location), False)
    with _lock:
        was_open = key in _handles
    reader = handle(location)
    try:
        yield reader
    finally:
        with _lock:
            # While a local computation runs, its tasks may share this handle:
            # it is closed when the last one ends (_CloseAfterComputing).
            keep = was_open or _computing.running or not _blocks(reader)
            entry = None if keep else _handles.pop(key, None)
        if entry is not None:
            _close(entry[1])


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
        if hasattr(opened_handle, "close")
    ]
    return [_handles.pop(key) for key in blocking]


class _CloseAfterComputing(Callback):
    """Closes blocking files when no computation of this process runs any more."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0  # computations under way, counted under the module lock

    def _start(self, dsk: Any) -> None:
        with _lock:
            self.running += 1

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        with _lock:
            self.running -= 1
            held = _pop_blocking() if self.running == 0 else []
        for _, old in held:
            _close(old)


_computing = _CloseAfterComputing()
_computing.register()


def open_locations() -> list[str]:
    """Locations with a handle open in this process (to see where reads ran)."""
    with _lock:
        return sorted(str(key) for key, _ in _handles)
