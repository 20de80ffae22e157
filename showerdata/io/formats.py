"""Which storage format a path names: the one place that decides HDF5 or zarr."""

from __future__ import annotations

import os
from types import ModuleType


def is_zarr(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a zarr store: a ``.zarr`` name or a zarr directory."""
    path = os.fspath(path).rstrip("/")
    if path.endswith(".zarr"):
        return True
    return os.path.isdir(path) and os.path.exists(os.path.join(path, "zarr.json"))


def writer_for(path: str | os.PathLike[str]) -> ModuleType:
    """The writer module of ``path``'s format.

    Both modules provide ``new_file``, ``existing_file``, ``create_dataset``,
    ``create_points_datasets``, ``create_showers_layout``,
    ``create_particles_layout``, ``write_points``, ``write_fields`` and
    ``replace_group`` with the same signatures.
    """
    if is_zarr(path):
        from . import zarr_write

        return zarr_write
    from . import hdf5_write

    return hdf5_write
