"""A per-process cache of read-only HDF5 handles, keyed by path.

Graph tasks carry paths, never handles; the first task in a process that reads
a file opens it here and later tasks reuse the handle. A handle is reopened when
the file at that path changed (we replace files by renaming a new one into
place), and writers drop the path's handle before they open it for writing.
"""

from __future__ import annotations

import os
import threading

import h5py

_lock = threading.Lock()
_handles: dict[str, tuple[tuple[int, int, int], h5py.File]] = {}


def file_identity(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(inode, mtime, size): changes whenever the file at ``path`` is replaced."""
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def open_hdf5(path: str | os.PathLike[str], mode: str = "r") -> h5py.File:
    """Open an HDF5 file, turning h5py's errors into ones that name the file.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    OSError
        The file is not a readable HDF5 file (e.g. truncated or another format).
    """
    path = os.fspath(path)
    if mode != "w" and not os.path.exists(path):
        raise FileNotFoundError(f"No such shower file: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"'{path}' is a directory, not an HDF5 shower file.")
    try:
        return h5py.File(path, mode)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise OSError(
            f"'{path}' is not a readable HDF5 file (truncated, corrupt or another "
            f"format): {error}"
        ) from error


def cached_reader(path: str | os.PathLike[str]) -> h5py.File:
    """A read-only handle for ``path``, shared within this process."""
    path = os.path.abspath(os.fspath(path))
    try:
        identity = file_identity(path)
    except FileNotFoundError:
        forget(path)
        raise FileNotFoundError(f"No such shower file: '{path}'") from None
    with _lock:
        cached = _handles.get(path)
        if cached is not None and cached[0] == identity and cached[1].id.valid:
            return cached[1]
        if cached is not None:
            cached[1].close()
        handle = open_hdf5(path, "r")
        _handles[path] = (identity, handle)
        return handle


def forget(path: str | os.PathLike[str]) -> None:
    """Close and drop the cached handle of ``path`` (before writing to it)."""
    path = os.path.abspath(os.fspath(path))
    with _lock:
        cached = _handles.pop(path, None)
    if cached is not None:
        cached[1].close()
