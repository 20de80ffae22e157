"""Writing the showerdata 0.7 HDF5 layout, block by block.

HDF5 has one writer: blocks computed anywhere are written here, in the calling
process. New files are written under a temporary name and renamed into place
only when complete, so a failed or interrupted save never leaves a partial file
at the destination nor destroys the file that was there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import h5py
import numpy as np

from ..._version import __version__
from ...errors import ShowerDataError
from ...failpoints import failpoint
from ...kernels.heap import REFERENCE_BYTES
from ...ragged import unpad_rows
from ...replacing import check_parent_directory
from ..files import forget
from ..layout import PARTICLE_FIELDS, PER_SHOWER, points_dataset_names
from .heap_rows import reference_offset
from .read import open_hdf5, unreadable_rows

VLEN_FLOAT32 = h5py.vlen_dtype(np.dtype("float32"))


def check_destination(path: str | os.PathLike[str], overwrite: bool) -> str:
    """Fail early, before any work, if ``path`` cannot or may not be written."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"'{path}' is a directory; give a file name to write.")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"File {path} already exists. Use overwrite=True to overwrite."
        )
    check_parent_directory(path)
    return path


@contextmanager
def new_file(path: str | os.PathLike[str], overwrite: bool) -> Iterator[h5py.File]:
    """An HDF5 file that appears at ``path`` only once the block exits cleanly."""
    path = check_destination(path, overwrite)
    directory, name = os.path.split(os.path.abspath(path))
    partial = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with h5py.File(partial, "w") as file:
            file.attrs["showerdata_version"] = __version__
            yield file
        failpoint("hdf5.before-rename")
        forget(path)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


@contextmanager
def existing_file(path: str | os.PathLike[str]) -> Iterator[h5py.File]:
    """Open an existing file for writing in place (``save_batch`` and friends)."""
    forget(path)
    with open_hdf5(path, "r+") as file:
        yield file


def reset_unreadable_rows(
    path: str | os.PathLike[str], name: str, start: int, stop: int, block: int
) -> None:
    """Empty the rows ``start ... stop - 1`` of ``name`` that cannot be read.

    A writer killed in the middle of ``save_batch`` can leave rows whose
    references reached the disk while the global heap collections they point
    to lie past the end of allocation in the superblock (never flushed), or
    lack the objects. HDF5 fails to read such rows, and to overwrite them
    (it frees the old heap object first), so the batch could not be rerun.
    We zero their references with plain file writes, making them empty rows
    as if never written; the caller is about to overwrite them, so nothing is
    lost, and the heap space they pointed to is unallocated, so nothing leaks.

    Raises
    ------
    ShowerDataError
        Rows are damaged but the dataset is not stored as contiguous 16-byte
        references (not a layout we or showerdata 0.7 write).
    """
    path = os.fspath(path)
    forget(path)
    with open_hdf5(path, "r") as file:
        dataset = file[name]
        damaged = unreadable_rows(dataset, start, stop, block)
        offset = reference_offset(dataset)
    if not damaged:
        return
    if offset is None:
        raise ShowerDataError(
            f"{len(damaged)} rows were left unreadable by an interrupted write, "
            "and cannot be reset in place in this storage layout; rewrite the file",
            path=path,
            dataset=name,
            index=damaged[0],
        )
    with open(path, "r+b") as raw:
        for row in damaged:
            raw.seek(offset + REFERENCE_BYTES * row)
            raw.write(bytes(REFERENCE_BYTES))


def create_dataset(
    file: h5py.File, name: str, shape: tuple[int, ...], dtype: Any
) -> h5py.Dataset:
    """Create a plain (contiguous, uncompressed, as 0.7 writes) dataset."""
    return file.create_dataset(name, shape=shape, dtype=dtype)


def check_replaceable(file: h5py.File, name: str) -> None:
    """Nothing to refuse: an HDF5 file can always move a group."""


def replace_group(file: h5py.File, staging: str, name: str) -> None:
    """Move the group ``staging`` to ``name``, replacing a group of that name."""
    if name in file:
        del file[name]
    file.move(staging, name)


def create_points_datasets(
    file: h5py.File, key: str, shape: tuple[int, int, int], shape_dtype: str = "int32"
) -> None:
    """Create the vlen rows, ``shape`` and ``num_points`` datasets of ``key``."""
    rows, shape_name, num_points = points_dataset_names(key)
    file.create_dataset(rows, shape=(shape[0],), dtype=VLEN_FLOAT32)
    file.create_dataset(shape_name, data=np.asarray(shape, dtype=shape_dtype))
    file.create_dataset(num_points, shape=(shape[0],), dtype="int32")


def create_showers_layout(
    file: h5py.File, shape: tuple[int, int, int], shape_dtype: str = "int32"
) -> None:
    """Create every dataset of a showers file of ``shape`` = (N, P, F).

    ``shape_dtype``: int32 as 0.7's ``create_empty_file`` wrote it; ``save``
    passes int64, as 0.7's ``save`` stored it, so files match bit for bit.
    """
    create_points_datasets(file, "showers", shape, shape_dtype)
    for name, (dtype, tail) in PER_SHOWER.items():
        if name != "num_points":
            file.create_dataset(name, shape=(shape[0], *tail), dtype=dtype)


def create_particles_layout(file: h5py.File, length: int) -> None:
    """Create the datasets of an incident-particles file."""
    for name in PARTICLE_FIELDS:
        dtype, tail = PER_SHOWER[name]
        file.create_dataset(name, shape=(length, *tail), dtype=dtype)


#: Rows per HDF5 write call: h5py holds its global lock for a whole call,
#: and reads in other threads wait for it.
ROWS_PER_WRITE = 128


def write_vlen_rows(dataset: h5py.Dataset, start: int, rows: np.ndarray) -> None:
    """Write an object array of float32 rows at ``start`` of a vlen dataset.

    Goes through h5py's low-level API: the high-level setter turns rows of
    equal length into a 2-D array and then refuses them (h5py issue 2429).
    """
    for first in range(0, len(rows), ROWS_PER_WRITE):
        piece = rows[first : first + ROWS_PER_WRITE]
        file_space = dataset.id.get_space()
        file_space.select_hyperslab((start + first,), (len(piece),))
        memory_space = h5py.h5s.create_simple((len(piece),))
        dataset.id.write(memory_space, file_space, piece)


def write_points(
    file: h5py.File, key: str, start: int, points: np.ndarray, num_points: np.ndarray
) -> None:
    """Write a padded block as vlen rows ``start ...`` of ``key``."""
    rows_name, _, num_points_name = points_dataset_names(key)
    stop = start + len(points)
    if len(points):
        write_vlen_rows(file[rows_name], start, unpad_rows(points, num_points))
        file[num_points_name][start:stop] = num_points


def write_fields(file: h5py.File, start: int, block: Mapping[str, np.ndarray]) -> None:
    """Write one block of showers (or particles) at rows ``start ...``."""
    if "points" in block:
        write_points(file, "showers", start, block["points"], block["num_points"])
    for name in PER_SHOWER:
        if name in block and name != "num_points":
            values = block[name]
            if len(values):
                file[name][start : start + len(values)] = values
    failpoint("hdf5.after-chunk")
