"""A per-process cache of read-only handles (HDF5 files, zarr groups), keyed by path.

Graph tasks carry paths, never handles; the first task in a process that reads
a file opens it here and later tasks reuse the handle. A handle is reopened when
the file at that path changed (we replace files by renaming a new one into
place), and writers drop the path's handle before they open it for writing.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import h5py

from .formats import is_zarr

_lock = threading.Lock()
_handles: dict[str, tuple[tuple[int, int, int], Any]] = {}


def file_identity(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(inode, mtime, size): changes whenever the file at ``path`` is replaced.

    For a zarr store: the directory's inode and its root metadata's mtime and size.
    """
    if is_zarr(path) and os.path.isdir(path):
        from .zarr_store import store_identity

        return store_identity(path)
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


def open_reader(path: str) -> Any:
    """A new read-only handle: an h5py file or a zarr group, by the path's format."""
    if is_zarr(path):
        from .zarr_store import open_store

        return open_store(path, "r")
    return open_hdf5(path, "r")


def _is_open(handle: Any) -> bool:
    return not isinstance(handle, h5py.File) or bool(handle.id.valid)


def _close(handle: Any) -> None:
    if isinstance(handle, h5py.File):
        handle.close()


def cached_reader(path: str | os.PathLike[str]) -> Any:
    """A read-only handle for ``path``, shared within this process.

    An :class:`h5py.File` for HDF5 files, a :class:`zarr.Group` for zarr stores;
    both are indexed by dataset name and have ``attrs``.
    """
    path = os.path.abspath(os.fspath(path))
    try:
        identity = file_identity(path)
    except FileNotFoundError:
        forget(path)
        raise FileNotFoundError(f"No such shower file: '{path}'") from None
    with _lock:
        cached = _handles.get(path)
        if cached is not None and cached[0] == identity and _is_open(cached[1]):
            return cached[1]
        if cached is not None:
            _close(cached[1])
        handle = open_reader(path)
        _handles[path] = (identity, handle)
        return handle


def forget(path: str | os.PathLike[str]) -> None:
    """Close and drop the cached handle of ``path`` (before writing to it)."""
    from .heap_rows import forget_maps

    path = os.path.abspath(os.fspath(path))
    forget_maps(path)
    with _lock:
        cached = _handles.pop(path, None)
    if cached is not None:
        _close(cached[1])


def cached_paths() -> list[str]:
    """Paths with a read handle cached in this process (to see where reads ran)."""
    with _lock:
        return sorted(_handles)
