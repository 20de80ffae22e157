"""Writing the zarr mirror of the layout, block by block.

The same functions as :mod:`.hdf5_write` (see :func:`.formats.writer_for`), for
zarr groups. A new store is built under a fixed temporary name beside its
destination and renamed into place when complete, so an interrupted save
leaves the previous store untouched and can be resumed (see :mod:`.zarr_save`).
Blocks that cover a chunk only in part are written under :func:`chunk_lock`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec
from zarr.storage import LocalStore

from .._version import __version__
from ..config import showers_per_chunk
from ..errors import ShowerDataError
from ..ragged import zero_padding
from ..replacing import remove, replace_directory
from .handles import forget
from .layout import PARTICLE_FIELDS, PER_SHOWER, points_dataset_names
from .read import PointReads
from .zarr_chunks import write_chunk_in_pieces, write_whole_chunks
from .zarr_store import (
    CHUNKS_WRITTEN,
    FORMAT_ATTRIBUTE,
    FORMAT_NAME,
    LAYOUT_VERSION,
    LAYOUT_VERSION_ATTRIBUTE,
    Kept,
    array_version,
    chunk_lock,
    mark_written,
    open_store,
    record_name,
    store_root,
)

#: Zero padding and smooth float columns compress well after a byte shuffle.
#: Level 3 (256 KiB Blosc blocks) compresses the benchmark chunks 13 % faster
#: than level 5 (512 KiB) into files of the same size, and reads as fast.
COMPRESSOR = BloscCodec(cname="lz4", clevel=3, shuffle="shuffle")


def partial_path(path: str) -> str:
    """Where a store is built before it is renamed to ``path`` (fixed: resumable)."""
    directory, name = os.path.split(os.path.abspath(path.rstrip("/")))
    return os.path.join(directory, f".{name}.partial")


def check_destination(path: str | os.PathLike[str], overwrite: bool) -> str:
    """Fail early, before any work, if a store may not be written at ``path``."""
    path = os.fspath(path).rstrip("/")
    if os.path.exists(path):
        if not overwrite:
            raise FileExistsError(
                f"Store {path} already exists. Use overwrite=True to overwrite."
            )
        if os.path.isdir(path) and not os.path.exists(os.path.join(path, "zarr.json")):
            raise FileExistsError(
                f"'{path}' is a directory but not a zarr store; refusing to replace it."
            )
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(
            f"Cannot write '{path}': directory '{parent}' does not exist."
        )
    return path


def commit(partial: str, path: str) -> None:
    """Move a finished store from ``partial`` to ``path``, replacing what was there.

    Where the system can, the old store and the new one swap places in one
    step, so that ``path`` is never missing (see :func:`.replacing.exchange`).
    """
    forget(path)
    replace_directory(partial, path)


def new_store(path: str) -> zarr.Group:
    """An empty showerdata group at ``path`` (replacing whatever is there)."""
    remove(path)
    return zarr.open_group(
        path,
        mode="w",
        zarr_format=3,
        attributes={
            FORMAT_ATTRIBUTE: FORMAT_NAME,
            LAYOUT_VERSION_ATTRIBUTE: LAYOUT_VERSION,
            "showerdata_version": __version__,
        },
    )


@contextmanager
def new_file(
    path: str | os.PathLike[str], overwrite: bool, resume: bool = False
) -> Iterator[zarr.Group]:
    """A store that appears at ``path`` only once the block exits cleanly.

    With ``resume``, an interrupted earlier build is reopened as it was;
    otherwise it is started afresh. If the block raises an ``Exception``, the
    build is removed; if it is interrupted (``KeyboardInterrupt``, a killed
    process), it stays to be resumed.
    """
    path = check_destination(path, overwrite)
    partial = partial_path(path)
    group = _reopened(partial) if resume else None
    if group is None:
        group = new_store(partial)
    try:
        yield group
    except Exception:
        remove(partial)
        raise
    commit(partial, path)


def _reopened(partial: str) -> zarr.Group | None:
    try:
        group = open_store(partial, "r+")
    except (OSError, ShowerDataError):  # absent, or killed before it was a store
        return None
    # The chunk record is created last: without it the build was killed while
    # creating its arrays, and there is nothing to resume but a fresh start.
    return group if CHUNKS_WRITTEN in group else None


@contextmanager
def existing_file(path: str | os.PathLike[str]) -> Iterator[zarr.Group]:
    """Open an existing store for writing in place (``save_batch`` and friends)."""
    forget(path)
    yield open_store(path, "r+")


def create_dataset(
    group: zarr.Group,
    name: str,
    shape: tuple[int, ...],
    dtype: Any,
    chunk_length: int | None = None,
) -> zarr.Array:
    """Create a compressed array chunked along its first axis."""
    if chunk_length is None:
        bytes_per_row = (
            int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
        )
        chunk_length = showers_per_chunk(1, max(1, bytes_per_row // 4))
    length = max(1, min(chunk_length, shape[0])) if shape else 1
    array = group.create_array(
        name,
        shape=shape,
        chunks=(length, *shape[1:]) if shape else (),
        dtype=dtype,
        compressors=COMPRESSOR,
        fill_value=0,
    )
    return _created(group, name, array)


def _create_record(group: zarr.Group, name: str, rows: int, chunk_length: int) -> None:
    chunks = -(-rows // chunk_length)
    array = group.create_array(
        name,
        shape=(chunks,),
        chunks=(1,),
        dtype="uint8",
        fill_value=0,
        compressors=None,
    )
    _created(group, name, array)


def _chunk_length(shape: tuple[int, int, int], chunk_length: int | None) -> int:
    if chunk_length is None:
        chunk_length = showers_per_chunk(shape[1], shape[2])
    return max(1, min(chunk_length, shape[0]))


def create_points_datasets(
    group: zarr.Group,
    key: str,
    shape: tuple[int, int, int],
    shape_dtype: str = "int32",
    chunk_length: int | None = None,
) -> None:
    """Create the dense points, ``shape``, ``num_points`` and record of ``key``."""
    rows, shape_name, num_points = points_dataset_names(key)
    length = _chunk_length(shape, chunk_length)
    create_dataset(group, rows, shape, "float32", length)
    group.create_array(
        shape_name, data=np.asarray(shape, dtype=shape_dtype), compressors=None
    )
    create_dataset(group, num_points, (shape[0],), "int32", length)
    _create_record(group, record_name(rows), shape[0], length)


def create_showers_layout(
    group: zarr.Group, shape: tuple[int, int, int], chunk_length: int | None = None
) -> None:
    """Create every array of a showers store of ``shape`` = (N, P, F)."""
    length = _chunk_length(shape, chunk_length)
    for name, (dtype, tail) in PER_SHOWER.items():
        if name != "num_points":
            create_dataset(group, name, (shape[0], *tail), dtype, length)
    # Last, as it ends with the chunk record: a store that has the record has
    # all its arrays (a save killed before then is started afresh on resume).
    create_points_datasets(group, "showers", shape, chunk_length=length)


def create_particles_layout(
    group: zarr.Group, length: int, chunk_length: int | None = None
) -> None:
    """Create the arrays of an incident-particles store."""
    chunk_length = max(1, min(chunk_length or 2**20, length))
    for name in PARTICLE_FIELDS:
        dtype, tail = PER_SHOWER[name]
        create_dataset(group, name, (length, *tail), dtype, chunk_length)
    _create_record(group, CHUNKS_WRITTEN, length, chunk_length)


def _writable(group: zarr.Group, name: str) -> zarr.Array:
    """Array ``name`` of ``group``, opened for writing once per version of it.

    Every write task of a save writes the same arrays; opening them through
    zarr each time cost milliseconds of GIL-bound work per array and task.
    Arrays this process created are kept from their creation.
    """
    version = array_version(group, name)
    if version is None:
        return _open_writable(group, name)  # not local, or zarr says what is wrong
    array = _writable_arrays.get(version)
    if array is None:
        root, key, _ = version
        array = _open_writable(zarr.open_group(LocalStore(root), mode="r+"), key)
        _writable_arrays.keep(version, array)
    return array


def _created(group: zarr.Group, name: str, array: zarr.Array) -> zarr.Array:
    """Keep a new array for :func:`_writable` (the save's tasks write it next)."""
    version = array_version(group, name)
    if version is not None:
        _writable_arrays.keep(version, _configured_writable(array))
    return array


#: Arrays kept by :func:`_writable` (a store has about ten).
_writable_arrays = Kept(limit=64)


def _has_array(group: zarr.Group, name: str) -> bool:
    # zarr's ``in`` reads the group's members; a metadata file says as much.
    if array_version(group, name) is not None:
        return True
    return not isinstance(group.store_path.store, LocalStore) and name in group


def _open_writable(group: zarr.Group, name: str) -> zarr.Array:
    return _configured_writable(group[name])


def _configured_writable(array: zarr.Array) -> zarr.Array:
    # A chunk of zeros must still be stored: a missing chunk means "not written".
    return array.with_config({"write_empty_chunks": True})


def write_rows(
    group: zarr.Group, start: int, arrays: Mapping[str, np.ndarray | PointReads]
) -> None:
    """Write rows ``start ...`` of arrays of one group, then record their chunks.

    Chunks the rows cover only in part are rewritten under :func:`chunk_lock`,
    so independent writers of neighbouring rows never tear a chunk. Points
    given as :class:`.read.PointReads` that make one whole chunk are read
    into it a piece at a time (:func:`.zarr_chunks.write_chunk_in_pieces`).
    """
    first = next(iter(arrays))
    stop = start + len(arrays[first])
    if stop == start:
        return
    targets = {name: _writable(group, name) for name in arrays}
    target = targets[first]
    length, total = int(target.chunks[0]), int(target.shape[0])
    for name, other in targets.items():
        if int(other.chunks[0]) != length or int(other.shape[0]) != total:
            # Chunk locks and records assume one chunk grid per group.
            raise ShowerDataError(
                f"has {other.shape[0]} rows in chunks of {other.chunks[0]}, but "
                f"'{first}' has {total} rows in chunks of {length}; the store's "
                "arrays must share their length and chunking along showers",
                path=store_root(target),
                dataset=name,
            )
    record = record_name(first)
    root = store_root(target)
    chunks = range(start // length, (stop - 1) // length + 1)
    partial = [
        k for k in chunks if start > k * length or stop < min((k + 1) * length, total)
    ]
    with ExitStack() as locks:
        for k in partial:
            locks.enter_context(chunk_lock(root, record, k))
        for name, values in arrays.items():
            if isinstance(values, PointReads):
                if len(chunks) == 1 and not partial:
                    fill = values.reader()
                    if write_chunk_in_pieces(
                        targets[name], chunks[0], len(values), fill
                    ):
                        continue
                values = values.read()
            if not write_whole_chunks(targets[name], start, np.asarray(values)):
                targets[name][start:stop] = values
    if _has_array(group, record):
        mark_written(_writable(group, record), chunks)


def write_points(
    group: zarr.Group,
    key: str,
    start: int,
    points: np.ndarray,
    num_points: np.ndarray,
) -> None:
    """Write a padded block as dense rows ``start ...`` of ``key``.

    Values past ``num_points`` are stored as zeros, as HDF5 (which keeps only
    the real points) would read them back.
    """
    rows_name, _, num_points_name = points_dataset_names(key)
    points = zero_padding(points, num_points)
    write_rows(group, start, {rows_name: points, num_points_name: num_points})


def write_fields(
    group: zarr.Group, start: int, block: Mapping[str, np.ndarray]
) -> None:
    """Write one block of showers (or particles) at rows ``start ...``."""
    rows_name = points_dataset_names("showers")[0]
    arrays = {rows_name: block["points"]} if "points" in block else {}
    arrays.update({name: block[name] for name in PER_SHOWER if name in block})
    write_rows(group, start, arrays)


def replace_group(group: zarr.Group, staging: str, name: str) -> None:
    """Move the group ``staging`` to ``name``, replacing a group of that name."""
    root = os.path.abspath(str(group.store.root))  # type: ignore[attr-defined]
    replace_directory(os.path.join(root, staging), os.path.join(root, name))
