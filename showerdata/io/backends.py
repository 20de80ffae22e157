"""Which backend serves a location: the one place that decides HDF5 or zarr.

A backend is a module (``io.hdf5``, ``io.zarr``) with the functions of
:class:`Backend`. A third format is one more package and one more line in
:func:`backend_for`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, cast


class Backend(Protocol):
    """What the format-neutral layer (``io.lazy``, ``io.api``) asks of a format."""

    #: Whether points are stored dense and padded (zarr) or as ragged rows (HDF5).
    DENSE: bool

    def identity(self, location: Any) -> Any:
        """A value that changes when the file at ``location`` is replaced."""

    def fingerprint(self, location: Any) -> Any:
        """(size, mtime)-like value an index records; None if not known cheaply."""

    def header_view(self, handle: Any) -> Any:
        """A view of an open handle that answers the header checks quickly."""

    def open_reader(self, location: Any) -> Any:
        """A new read-only handle, indexed by dataset name, with ``attrs``."""

    def is_open(self, handle: Any) -> bool:
        """Whether a handle is still usable."""

    def check_destination(self, location: Any, overwrite: bool) -> Any:
        """Fail before any work if ``location`` may not be written."""

    def new_file(self, location: Any, overwrite: bool) -> AbstractContextManager[Any]:
        """A writable handle of a new file, in place only when the block exits."""

    def existing_file(self, location: Any) -> AbstractContextManager[Any]:
        """A writable handle of an existing file."""

    def create_dataset(
        self, file: Any, name: str, shape: tuple[int, ...], dtype: Any
    ) -> Any:
        """Create a per-shower dataset (e.g. an observable)."""

    def create_points_datasets(
        self, file: Any, key: str, shape: tuple[int, int, int]
    ) -> None:
        """Create the rows, ``shape`` and ``num_points`` datasets of ``key``."""

    def create_showers_layout(self, file: Any, shape: tuple[int, int, int]) -> None:
        """Create every dataset of a showers file."""

    def write_points(
        self, file: Any, key: str, start: int, points: Any, num_points: Any
    ) -> None:
        """Write a padded block at rows ``start ...`` of ``key``."""

    def write_fields(self, file: Any, start: int, block: Mapping[str, Any]) -> None:
        """Write one block of showers (or particles) at rows ``start ...``."""

    def replace_group(self, file: Any, staging: str, name: str) -> None:
        """Move group ``staging`` to ``name``, replacing a group of that name."""

    def save_fields(
        self,
        fields: Mapping[str, Any],
        location: Any,
        shape: tuple[int, int, int] | None,
        overwrite: bool,
        progress: bool,
        resume: bool,
        chunk_length: int,
        attributes: Mapping[str, Any],
    ) -> None:
        """Write aligned fields to a new file (showers if ``shape`` is given).

        ``attributes`` become root attributes, set before the file is
        complete: a file never appears without them.
        """

    def save_rows(self, fields: Mapping[str, Any], location: Any, start: int) -> None:
        """Write aligned fields into rows ``start ...`` of an existing file."""

    def save_group(
        self,
        location: Any,
        name: str,
        arrays: dict[str, Any],
        attributes: dict[str, Any],
    ) -> None:
        """Write arrays as group ``name``, replacing it only when complete."""

    def list_datasets(self, location: Any) -> dict[str, tuple[str, tuple[int, ...]]]:
        """Every dataset of the data: name -> (dtype, shape)."""

    def size_on_disk(self, location: Any) -> int:
        """Bytes the file takes where it is kept."""


def is_zarr(location: Any) -> bool:
    """Whether ``location`` names a zarr store.

    A URL, a store object, a path ending in ``.zarr`` or a directory holding
    a ``zarr.json``; anything else is an HDF5 file.
    """
    if not isinstance(location, (str, os.PathLike)):
        return True  # a zarr store object
    path = os.fspath(location).rstrip("/")
    if "://" in path or path.endswith(".zarr"):
        return True
    return os.path.isdir(path) and os.path.exists(os.path.join(path, "zarr.json"))


def backend_for(location: Any) -> Backend:
    """The backend of ``location``'s format."""
    if is_zarr(location):
        from . import zarr as zarr_backend

        return cast(Backend, zarr_backend)
    from . import hdf5

    return cast(Backend, hdf5)


def location_key(location: Any) -> str:
    """How caches and graph keys name a location: absolute path, URL or store."""
    if isinstance(location, (str, os.PathLike)):
        path = os.fspath(location)
        return path if "://" in path else os.path.abspath(path)
    # Store objects compare by value but do not hash; their text names them.
    return f"{type(location).__name__}:{location}"
