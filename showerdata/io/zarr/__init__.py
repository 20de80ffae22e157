"""The zarr backend: stores read and written through zarr-python's public API.

See :class:`showerdata.io.backends.Backend` for what each function does.
"""

from __future__ import annotations

import os
from typing import Any

import zarr

from ...streaming import store_blocks
from .read import read_points, read_selection
from .save import save_fields, save_rows
from .store import (
    CHUNKS_WRITTEN,
    STORE_ATTRIBUTES,
    fingerprint,
    identity,
    is_local,
    is_url,
    open_store,
    shard_length,
)
from .write import (
    check_destination,
    check_replaceable,
    create_dataset,
    create_particles_layout,
    create_points_datasets,
    create_showers_layout,
    existing_file,
    new_file,
    replace_group,
    write_fields,
    write_points,
)

DENSE = True


def open_reader(location: Any, writable: bool = False) -> Any:
    """An open store, read only or (``writable``) for the write tasks of a save."""
    return open_store(location, "r+" if writable else "r")


def header_view(handle: Any) -> Any:
    """An opened store looks its arrays up once: it is its own quick view."""
    return handle


def is_open(handle: Any) -> bool:
    """Open stores hold no resource that can be closed under them."""
    return True


def is_dataset(item: Any) -> bool:
    """Whether ``item`` is an array (not a group)."""
    return isinstance(item, zarr.Array)


def list_datasets(location: Any) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every array of the data (not the store's own records): name -> dtype, shape."""
    arrays = open_store(location).arrays
    return {
        name: (str(array.dtype), tuple(array.shape))
        for name, array in sorted(arrays.items())
        if name.rpartition("/")[2] != CHUNKS_WRITTEN
    }


def size_on_disk(location: Any) -> int:
    """Bytes the store takes where it is kept."""
    if is_local(location):
        return sum(
            os.path.getsize(os.path.join(root, name))
            for root, _, names in os.walk(os.fspath(location))
            for name in names
        )
    if not is_url(location):
        return 0  # a store object: nothing says how to measure it
    import fsspec

    filesystem, path = fsspec.core.url_to_fs(location)
    return int(filesystem.du(path))


def save_group(
    location: Any, name: str, arrays: dict[str, Any], attributes: dict[str, Any]
) -> None:
    """Write per-shower arrays as group ``name``, replacing it only when complete.

    Built beside the old group in the store and moved over it at the end;
    lazy arrays may read the same store meanwhile.
    """
    with existing_file(location) as file:
        check_replaceable(file, name)
        staging = f".{name}.partial"
        if staging in file:
            del file[staging]
        group = file.create_group(staging)
        try:
            for key, values in arrays.items():
                create_dataset(group, key, values.shape, values.dtype)
            store_blocks(arrays, group)
        except BaseException:
            del file[staging]
            raise
        replace_group(file, staging, name)
        for key, value in attributes.items():
            file.attrs[key] = value


def chunk_length(dataset: Any) -> int:
    """Rows per chunk of showers: what one task reads or writes."""
    return shard_length(dataset)


__all__ = [
    "DENSE",
    "STORE_ATTRIBUTES",
    "check_destination",
    "check_replaceable",
    "chunk_length",
    "create_dataset",
    "create_particles_layout",
    "create_points_datasets",
    "create_showers_layout",
    "existing_file",
    "fingerprint",
    "header_view",
    "identity",
    "is_dataset",
    "is_open",
    "list_datasets",
    "new_file",
    "open_reader",
    "read_points",
    "read_selection",
    "replace_group",
    "save_fields",
    "save_group",
    "save_rows",
    "size_on_disk",
    "write_fields",
    "write_points",
]
