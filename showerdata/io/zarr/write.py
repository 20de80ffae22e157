"""Creating showerdata zarr stores and writing rows into them.

A new store is built so that it is complete or refused: in a local directory
it is built under a fixed temporary name beside its destination and renamed
into place when complete; elsewhere (object stores cannot rename) it is built
in place, marked ``showerdata_state = "writing"`` until its last chunk is in,
and readers refuse it until then. Either way an interrupted build can be
resumed (see :mod:`.save`).

``showers`` is sharded: one shard per chunk of showers (what one worker
writes, so workers never share a shard) holding inner chunks of a few showers
(what one shower costs to read).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec
from zarr.storage import LocalStore

from ..._version import __version__
from ...config import inner_chunk_length, showers_per_chunk
from ...errors import ShowerDataError
from ...failpoints import failpoint
from ...ragged import zero_padding
from ...replacing import check_parent_directory, remove, replace_directory
from ..layout import PARTICLE_FIELDS, PER_SHOWER, points_dataset_names
from .store import (
    CHUNKS_WRITTEN,
    COMPLETE,
    FORMAT_ATTRIBUTE,
    FORMAT_NAME,
    LAYOUT_VERSION,
    LAYOUT_VERSION_ATTRIBUTE,
    STATE_ATTRIBUTE,
    WRITING,
    Location,
    OpenedStore,
    describe,
    describe_store,
    is_local,
    open_store,
    shard_length,
)

#: LZ4 with a byte shuffle (padded point clouds compress well and decode
#: fast), then a CRC-32C of each chunk: Blosc itself checks nothing, so a
#: damaged chunk would otherwise decode to wrong values without an error.
COMPRESSORS = (BloscCodec(cname="lz4", clevel=3, shuffle="shuffle"), Crc32cCodec())


def partial_path(path: str) -> str:
    """Where a local store is built before it is renamed to ``path``."""
    directory, name = os.path.split(os.path.abspath(path.rstrip("/")))
    return os.path.join(directory, f".{name}.partial")


def check_destination(location: Location, overwrite: bool) -> Location:
    """Fail early, before any work, if a store may not be written at ``location``."""
    if not is_local(location):
        if not overwrite and _holds_group(location):
            raise FileExistsError(
                f"Store {describe(location)} already exists. Use overwrite=True to "
                "overwrite."
            )
        return location
    path = os.fspath(location).rstrip("/")
    if os.path.exists(path):
        if not overwrite:
            raise FileExistsError(
                f"Store {path} already exists. Use overwrite=True to overwrite."
            )
        if os.path.isdir(path) and not os.path.exists(os.path.join(path, "zarr.json")):
            raise FileExistsError(
                f"'{path}' is a directory but not a zarr store; refusing to replace it."
            )
    check_parent_directory(path)
    return path


def _holds_group(location: Location) -> bool:
    try:
        zarr.open_group(store=location, mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        return False
    except zarr.errors.NodeTypeValidationError:
        return True
    return True


def new_store(location: Location) -> OpenedStore:
    """An empty showerdata group at ``location``, replacing whatever is there."""
    if is_local(location):
        remove(os.fspath(location))
    group = zarr.open_group(
        store=location,
        mode="w",
        zarr_format=3,
        attributes={
            FORMAT_ATTRIBUTE: FORMAT_NAME,
            LAYOUT_VERSION_ATTRIBUTE: LAYOUT_VERSION,
            STATE_ATTRIBUTE: WRITING,
            "showerdata_version": __version__,
        },
    )
    return OpenedStore(group, {})


@contextmanager
def new_file(
    location: Location, overwrite: bool, resume: bool = False
) -> Iterator[OpenedStore]:
    """A store that readers accept only once the block exits cleanly.

    With ``resume``, an interrupted earlier build is reopened as it was;
    otherwise it is started afresh. If the block raises an ``Exception``, a
    local build is removed; if it is interrupted (``KeyboardInterrupt``, a
    killed process), it stays to be resumed.
    """
    from ..files import forget

    local = is_local(location)
    building = partial_path(os.fspath(location)) if local else location
    group = _reopened(building) if resume else None
    if group is None:
        location = check_destination(location, overwrite)
        group = new_store(building)
    try:
        yield group
    except Exception:
        if is_local(location):
            remove(building)
        raise
    failpoint("zarr.before-complete")
    group.attrs[STATE_ATTRIBUTE] = COMPLETE
    forget(location)
    if is_local(location):
        failpoint("zarr.before-rename")
        replace_directory(building, os.fspath(location))


def _reopened(location: Location) -> OpenedStore | None:
    try:
        group = open_store(location, "r+")
    except (OSError, ShowerDataError):  # absent, or killed before it was a store
        return None
    if group.attrs.get(STATE_ATTRIBUTE) != WRITING:
        return None  # a complete store: resuming it would be overwriting it
    # The chunk record is created last: without it the build was killed while
    # creating its arrays, and there is nothing to resume but a fresh start.
    return group if CHUNKS_WRITTEN in group else None


@contextmanager
def existing_file(location: Location) -> Iterator[OpenedStore]:
    """Open an existing store for writing in place (``save_batch`` and friends)."""
    from ..files import forget

    forget(location)
    yield open_store(location, "r+")


def create_dataset(
    group: zarr.Group,
    name: str,
    shape: tuple[int, ...],
    dtype: Any,
    chunk_length: int | None = None,
) -> zarr.Array:
    """Create a compressed array chunked along its first axis."""
    if chunk_length is None:
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
        chunk_length = showers_per_chunk(1, max(1, row_bytes // 4))
    length = max(1, min(chunk_length, shape[0])) if shape else 1
    return group.create_array(
        name,
        shape=shape,
        chunks=(length, *(max(1, n) for n in shape[1:])) if shape else (),
        dtype=dtype,
        compressors=COMPRESSORS,
        fill_value=0,
    )


def create_points_array(
    group: zarr.Group, name: str, shape: tuple[int, int, int], length: int
) -> zarr.Array:
    """Create dense padded points: a shard per ``length`` showers, small chunks."""
    tail = (max(1, shape[1]), max(1, shape[2]))
    inner = inner_chunk_length(length, *tail)
    return group.create_array(
        name,
        shape=shape,
        chunks=(inner, *tail),
        shards=(length, *tail),
        dtype="float32",
        compressors=COMPRESSORS,
        fill_value=0,
    )


def _create_record(group: zarr.Group, name: str, rows: int, chunk_length: int) -> None:
    # One entry per chunk of showers, each its own zarr chunk, so that the
    # workers writing different chunks never write the same object.
    group.create_array(
        name,
        shape=(-(-rows // chunk_length),),
        chunks=(1,),
        dtype="uint8",
        fill_value=0,
        compressors=None,
    )


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
    create_points_array(group, rows, shape, length)
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


def record_name(array_name: str) -> str:
    """Path of the ``chunks_written`` record of the group holding ``array_name``."""
    group = array_name.rpartition("/")[0]
    return f"{group}/{CHUNKS_WRITTEN}" if group else CHUNKS_WRITTEN


def written_chunks(record: zarr.Array) -> np.ndarray:
    """Which chunks of showers a ``chunks_written`` record marks as written.

    An entry that a killed writer left cut short marks its chunk as not
    written, so that a resumed save writes that chunk again.
    """
    try:
        return np.asarray(record[...]).astype(bool)
    except ValueError:  # zarr cannot decode an entry of the wrong size
        return np.array(
            [_entry_written(record, k) for k in range(record.shape[0])], dtype=bool
        )


def _entry_written(record: zarr.Array, index: int) -> bool:
    try:
        return bool(record[index])
    except ValueError:
        return False


def write_rows(group: zarr.Group, start: int, arrays: Mapping[str, np.ndarray]) -> None:
    """Write rows ``start ...`` of arrays of one group, then record their chunks.

    Shards the rows cover only in part are read, changed and written back by
    zarr; in a local store that happens under :func:`shard_lock`, so that
    independent writers of neighbouring rows never lose each other's rows.
    """
    first = next(iter(arrays))
    stop = start + len(arrays[first])
    if stop == start:
        return
    targets = {name: _writable(group, name) for name in arrays}
    length = shard_length(targets[first])
    total = int(targets[first].shape[0])
    for name, other in targets.items():
        if shard_length(other) != length or int(other.shape[0]) != total:
            raise ShowerDataError(
                f"has {other.shape[0]} rows in chunks of {shard_length(other)}, but "
                f"'{first}' has {total} rows in chunks of {length}; the store's "
                "arrays must share their length and chunking along showers",
                path=describe_store(group),
                dataset=name,
            )
    record = record_name(first)
    chunks = range(start // length, (stop - 1) // length + 1)
    partial = [
        k for k in chunks if start > k * length or stop < min((k + 1) * length, total)
    ]
    _discard_chunks(targets.values(), [k for k in chunks if k not in partial])
    with ExitStack() as locks:
        for k in partial:
            locks.enter_context(shard_lock(group, record, k))
        for name, values in arrays.items():
            if targets[name].size:  # no values at all (P = 0): nothing to write
                targets[name][start:stop] = values
    failpoint("zarr.before-record")
    if record in group:
        _writable(group, record)[chunks.start : chunks.stop] = 1
    failpoint("zarr.after-shard")


def _discard_chunks(arrays: Iterable[zarr.Array], chunks: list[int]) -> None:
    """Delete the local files of ``chunks`` (along showers), about to be written whole.

    zarr rewrites a shard by reading it first, even when every row of it is
    new, and zarr 3.1 writes a local file in place: a shard that a killed
    writer cut short would make every later write of it fail on its checksum
    (a resumed save, a rerun ``save_batch``). Objects in object stores are
    written whole, so only local stores can hold one.
    """
    for array in arrays:
        if not isinstance(array.store, LocalStore):
            continue
        for chunk in chunks:
            key = array.metadata.encode_chunk_key((chunk, *(0,) * (array.ndim - 1)))
            with suppress(FileNotFoundError):
                os.remove(os.path.join(str(array.store.root), array.path, key))


def _writable(group: Any, name: str) -> zarr.Array:
    if isinstance(group, OpenedStore):
        return group.writable(name)
    return OpenedStore(group, {}).writable(name)


_thread_locks: dict[tuple[str, str, int], threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextmanager
def shard_lock(group: zarr.Group, record: str, index: int) -> Iterator[None]:
    """Exclusive right to rewrite part of shard ``index`` of a local store.

    Processes serialise on a byte-range lock of the record's metadata file
    (byte ``index``), threads of one process on a lock of their own (POSIX
    record locks are per process). Object stores have no locks: writers that
    share a shard there must not run at once (see ``save_batch``).
    """
    root = getattr(group.store, "root", None)
    if root is None:
        yield
        return
    key = (str(root), record, index)
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(key, threading.Lock())
    lock_file = os.path.join(str(root), group.path, record, "zarr.json")
    with thread_lock:
        descriptor = os.open(lock_file, os.O_RDWR)
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX, 1, index)
            try:
                yield
            finally:
                fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, index)
        finally:
            os.close(descriptor)


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


def check_replaceable(group: zarr.Group, name: str) -> None:
    """Refuse, before anything is written, a group :func:`replace_group` cannot move.

    Moving a group is a directory rename; object stores have no rename.
    """
    if getattr(group.store, "root", None) is None:
        raise ShowerDataError(
            "replacing a group needs a local store; write the target to a new "
            "store instead",
            path=describe_store(group),
            dataset=name,
        )


def replace_group(group: zarr.Group, staging: str, name: str) -> None:
    """Move the group ``staging`` to ``name``, replacing a group of that name."""
    check_replaceable(group, name)
    base = os.path.join(os.path.abspath(str(group.store.root)), group.path)
    replace_directory(os.path.join(base, staging), os.path.join(base, name))
