"""The HDF5 backend: the showerdata 0.7 layout, read and written with h5py.

See :class:`showerdata.io.backends.Backend` for what each function does.
HDF5 has one writer per file: blocks computed anywhere are written by the
calling process.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

import h5py

from ...config import showers_per_chunk
from ...streaming import iter_blocks, store_blocks
from .header import HeaderDataset, header_view
from .read import open_hdf5, read_points, read_selection
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
    reset_unreadable_rows,
    write_fields,
    write_points,
)

DENSE = False
#: HDF5 root attributes all describe the data.
STORE_ATTRIBUTES: tuple[str, ...] = ()


def identity(location: Any) -> tuple[int, int, int]:
    """(inode, mtime, size): changes whenever the file is replaced or written."""
    stat = os.stat(location)
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def fingerprint(location: Any) -> tuple[int, int]:
    """(size, mtime): what an index records to see a file replaced; survives a copy
    that keeps modification times (``cp -p``, ``rsync -a``), unlike the inode."""
    stat = os.stat(location)
    return (stat.st_size, stat.st_mtime_ns)


def open_reader(location: Any, writable: bool = False) -> h5py.File:
    """A new read-only handle (HDF5 files are never shared for writing)."""
    if writable:
        raise ValueError("HDF5 files have one writer; they are not opened per task.")
    return open_hdf5(location, "r")


def is_open(handle: Any) -> bool:
    """Whether an h5py file is still open."""
    return bool(handle.id.valid)


def is_dataset(item: Any) -> bool:
    """Whether ``item`` is a dataset (not a group)."""
    return isinstance(item, (h5py.Dataset, HeaderDataset))


def list_datasets(location: Any) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every dataset of the file: name -> (dtype, shape)."""
    found: dict[str, tuple[str, tuple[int, ...]]] = {}

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            vlen = h5py.check_vlen_dtype(item.dtype)
            dtype = f"vlen {vlen}" if vlen is not None else str(item.dtype)
            found[name] = (dtype, tuple(item.shape))

    with open_hdf5(location, "r") as file:
        file.visititems(visit)
    return found


def size_on_disk(location: Any) -> int:
    """Bytes of the file."""
    return os.path.getsize(location)


def chunk_length(dataset: Any) -> int | None:
    """HDF5 datasets of the layout are contiguous: no chunk length of their own."""
    return None


def save_fields(
    fields: Mapping[str, Any],
    location: Any,
    shape: tuple[int, int, int] | None,
    overwrite: bool,
    progress: bool,
    resume: bool,
    chunk_length: int,
    scheduler: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """Stream aligned fields, computed chunk by chunk, into a new file.

    ``scheduler``: where chunks are computed (``"sync"`` inside a dask task;
    default: the active scheduler); ``attributes``: root attributes, set
    before the file appears.
    """
    if resume:
        raise ValueError("resume=True applies to zarr stores only.")
    with new_file(location, overwrite) as file:
        for key, value in (attributes or {}).items():
            file.attrs[key] = value
        if shape is not None:
            # 0.7's save stored the shape tuple as h5py does: int64.
            create_showers_layout(file, shape, shape_dtype="int64")
            rows = showers_per_chunk(shape[1], shape[2])
        else:
            create_particles_layout(file, len(next(iter(fields.values()))))
            rows = chunk_length
        blocks = iter_blocks(
            fields, chunk_length=rows, progress=progress, scheduler=scheduler
        )
        for start, block in blocks:
            write_fields(file, start, block)


def save_group(
    location: Any, name: str, arrays: dict[str, Any], attributes: dict[str, Any]
) -> None:
    """Write per-shower arrays as group ``name``, replacing it only when complete.

    The arrays are computed into a file beside the destination first: lazy
    arrays may read the destination, which HDF5 will not open for reading
    while it is open for writing. The finished group is then copied in.
    """
    directory, base = os.path.split(os.path.abspath(location))
    side = os.path.join(directory, f".{base}.{uuid.uuid4().hex[:8]}.{name}")
    try:
        with h5py.File(side, "w") as staging:
            group = staging.create_group(name)
            for key, values in arrays.items():
                group.create_dataset(key, shape=values.shape, dtype=values.dtype)
            store_blocks(arrays, group)
            with existing_file(location) as file:
                if name in file:
                    del file[name]
                file.copy(staging[name], file, name)
                for key, value in attributes.items():
                    file.attrs[key] = value
    finally:
        if os.path.exists(side):
            os.remove(side)


def save_rows(fields: Mapping[str, Any], location: Any, start: int) -> None:
    """Write aligned fields into rows ``start ...``, one block at a time."""
    length = len(next(iter(fields.values())))
    shape = fields["points"].shape if "points" in fields else (length, 1, 1)
    rows = showers_per_chunk(shape[1], shape[2])
    # A rerun after a killed save_batch must not trip over the rows it left
    # unreadable: reset those of this batch to empty.
    reset_unreadable_rows(location, "showers", start, start + length, rows)
    with existing_file(location) as file:
        for offset, block in iter_blocks(fields, chunk_length=rows):
            write_fields(file, start + offset, block)
            file.flush()  # a kill then damages only the blocks in flight


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
