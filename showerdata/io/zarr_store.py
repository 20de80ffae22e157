"""The zarr mirror of the layout: opening stores, chunk records and chunk locks.

A showerdata zarr store is a zarr (format 3) group with the names of the HDF5
layout; ``showers`` (and a target's ``point_clouds``) is dense and zero padded.
Every array is chunked along showers with one chunk length per group.

Each group of point clouds (the root for ``showers``, ``<key>/`` for a target)
has a ``chunks_written`` array with one byte per chunk, stored as its own zarr
chunk so that workers set them without coordination. A byte is set once every
array of the group holds that chunk. Readers use it two ways: an unset chunk
reads as empty showers (as unwritten rows of an HDF5 file do), and a set chunk
whose file is missing is an error instead of silently reading zeros.
"""

from __future__ import annotations

import fcntl
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import zarr
import zarr.errors
from zarr.codecs import BytesCodec
from zarr.storage import LocalStore

from ..errors import ShowerDataError
from ..replacing import write_file

#: Root attributes that mark a showerdata store and its layout version.
FORMAT_ATTRIBUTE = "showerdata_format"
FORMAT_NAME = "showerdata-zarr"
LAYOUT_VERSION_ATTRIBUTE = "showerdata_layout_version"
LAYOUT_VERSION = 1
#: Per-group record of the chunks that are completely written.
CHUNKS_WRITTEN = "chunks_written"
#: Codecs an array of a store may use: byte order, compression, checksums and
#: sharding -- codecs that turn bytes into numbers and nothing else. A store is
#: untrusted input: a codec that decodes to Python objects (pickle, JSON,
#: msgpack, vlen) could run code or smuggle objects in, so it is refused by
#: name, whatever the installed codec registry happens to provide.
SAFE_CODECS = frozenset(
    {"bytes", "endian", "blosc", "zstd", "gzip", "crc32c", "transpose"}
    | {"sharding_indexed"}  # its inner codecs are checked too
    | {
        f"numcodecs.{name}"
        for name in (
            "blosc lz4 zstd zlib gzip bz2 lzma shuffle delta "
            "crc32 crc32c adler32 fletcher32 jenkins_lookup3"
        ).split()
    }
)
#: numpy dtype kinds of the layout's arrays: booleans, integers and floats.
NUMERIC_KINDS = "biuf"


def open_store(path: str | os.PathLike[str], mode: str = "r") -> zarr.Group:
    """Open a showerdata zarr store, with errors that name it.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    NotADirectoryError
        ``path`` is a file, not a zarr store.
    ShowerDataError
        ``path`` is a zarr group but not a showerdata store.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such shower store: '{path}'")
    if not os.path.isdir(path):
        raise NotADirectoryError(f"'{path}' is a file, not a zarr store directory.")
    try:
        group = zarr.open_group(path, mode=mode)
    except (zarr.errors.GroupNotFoundError, zarr.errors.NodeTypeValidationError):
        raise ShowerDataError(
            "is not a zarr group (no zarr.json of a group)", path=path
        ) from None
    except (ValueError, OSError) as error:
        message = f"is not a readable zarr store: {error}"
        raise ShowerDataError(message, path=path) from error
    if group.attrs.get(FORMAT_ATTRIBUTE) != FORMAT_NAME:
        raise ShowerDataError(
            f"is a zarr group but not a showerdata store (no root attribute "
            f"{FORMAT_ATTRIBUTE} = '{FORMAT_NAME}')",
            path=path,
        )
    arrays = check_plain_arrays(group, path)
    if mode == "r":
        # The listing read every array's metadata already (concurrently, in
        # one call): keep the arrays, so that the reads that follow do not
        # look each one up again through zarr (a millisecond or more each).
        remember_arrays(group, arrays)
    return group


def check_plain_arrays(group: zarr.Group, path: str) -> dict[str, zarr.Array]:
    """Refuse a store unless every array is numbers stored with :data:`SAFE_CODECS`.

    Checked on opening, before any chunk is decoded: reading an untrusted
    store must never run code it carries, and a store we did not write gets
    an error naming the array instead of one from deep inside zarr. Returns
    the arrays, by path within the group.
    """
    if group.metadata.zarr_format != 3:
        raise ShowerDataError(
            f"is a zarr format {group.metadata.zarr_format} group; showerdata "
            "stores are zarr format 3",
            path=path,
        )
    try:
        with warnings.catch_warnings():
            # Temporary files of zarr's atomic writes that a killed writer left
            # (``zarr.<hex>.partial``) are not part of the store; say nothing.
            warnings.filterwarnings(
                "ignore", "Object at .* is not recognized", zarr.errors.ZarrUserWarning
            )
            members = list(group.members(max_depth=None))
    except (ValueError, TypeError, KeyError) as error:  # zarr's metadata errors
        raise ShowerDataError(
            f"has array metadata that cannot be read safely: {error}", path=path
        ) from None
    arrays = {name: node for name, node in members if isinstance(node, zarr.Array)}
    for name, node in arrays.items():
        metadata = node.metadata
        if metadata.zarr_format != 3:
            raise ShowerDataError(
                f"is a zarr format {metadata.zarr_format} array",
                path=path,
                dataset=name,
            )
        try:
            kind = np.dtype(node.dtype).kind
        except TypeError:
            kind = "O"
        if kind not in NUMERIC_KINDS:
            raise ShowerDataError(
                f"has data type {metadata.data_type}; the layout holds only numbers",
                path=path,
                dataset=name,
            )
        unsafe = sorted(
            _codec_names(c.to_dict() for c in metadata.codecs) - SAFE_CODECS
        )
        if unsafe:
            raise ShowerDataError(
                f"uses codec {', '.join(unsafe)}, which is not a plain numeric "
                f"codec; allowed: {', '.join(sorted(SAFE_CODECS))}",
                path=path,
                dataset=name,
            )
    return arrays


def _codec_names(codecs: Any) -> set[str]:
    """Names of codecs given as JSON dicts, with those nested in sharding codecs."""
    names: set[str] = set()
    for codec in codecs:
        names.add(str(codec.get("name")))
        configuration = codec.get("configuration") or {}
        for key in ("codecs", "index_codecs"):
            names |= _codec_names(configuration.get(key) or [])
    return names


def store_identity(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """Changes when the store at ``path`` is replaced or its root metadata edited."""
    directory = os.stat(path)
    try:
        root = os.stat(os.path.join(path, "zarr.json"))
    except FileNotFoundError:  # not a zarr store: opening it will say so
        return (directory.st_ino, directory.st_mtime_ns, -1)
    return (directory.st_ino, root.st_mtime_ns, root.st_size)


def is_zarr_array(item: Any) -> bool:
    """Whether ``item`` is a zarr array."""
    return isinstance(item, zarr.Array)


def store_root(array: zarr.Array) -> str:
    """Directory of the store holding ``array``."""
    return str(array.store_path.store.root)  # type: ignore[attr-defined]


def record_name(array_name: str) -> str:
    """Path of the ``chunks_written`` record of the group holding ``array_name``."""
    group = array_name.rpartition("/")[0]
    return f"{group}/{CHUNKS_WRITTEN}" if group else CHUNKS_WRITTEN


def chunk_length(array: zarr.Array) -> int:
    """Chunk length along the shower axis."""
    return int(array.chunks[0])


def chunk_file(root: str, array_name: str, ndim: int, index: int) -> str:
    """File of chunk ``index`` along showers (default zarr 3 chunk keys)."""
    return os.path.join(root, array_name, "c", str(index), *(["0"] * (ndim - 1)))


def has_chunk_files(array: zarr.Array) -> bool:
    """Whether the chunks of ``array`` are files at the paths :func:`chunk_file` gives.

    That is a zarr 3 array of a local store with default "/" chunk keys.
    """
    metadata = array.metadata
    encoding = getattr(metadata, "chunk_key_encoding", None)
    return (
        metadata.zarr_format == 3
        and isinstance(array.store_path.store, LocalStore)
        and encoding is not None
        and encoding.name == "default"
        and encoding.separator == "/"
    )


def array_version(
    group: Any, name: str
) -> tuple[str, str, tuple[int, int, int]] | None:
    """(store root, array key, identity of its ``zarr.json``) of a local array.

    The identity changes when the array is rewritten or resized (zarr
    replaces the file), so opened arrays can be kept under it. None where
    ``group`` is not a local zarr group or ``name`` has no metadata file.
    """
    store = getattr(getattr(group, "store_path", None), "store", None)
    if not isinstance(group, zarr.Group) or not isinstance(store, LocalStore):
        return None
    key = "/".join(part for part in (group.path, name) if part)
    try:
        stat = os.stat(os.path.join(str(store.root), key, "zarr.json"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    return str(store.root), key, (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def touched_chunks(selection: slice | np.ndarray, length: int) -> np.ndarray:
    """Chunk indices holding the selected rows (``length`` = chunk length)."""
    if isinstance(selection, slice):
        if selection.step in (None, 1):  # contiguous rows: no array of them
            if selection.stop <= selection.start:
                return np.empty(0, np.int64)
            length = max(length, 1)
            return np.arange(selection.start // length, -(-selection.stop // length))
        rows = np.arange(selection.start, selection.stop, selection.step)
    else:
        rows = np.asarray(selection)
    return np.unique(rows // max(length, 1))


def member(group: Any, name: str) -> Any:
    """``group[name]``; arrays of a local zarr store are opened once per version.

    A read of a few showers looks up every per-shower array and record of
    the store, and each lookup through zarr costs a millisecond of GIL-bound
    work; the opened (read-only) arrays are kept under :func:`array_version`.
    """
    version = array_version(group, name)
    if version is None:
        return group[name]  # not local, a group, or nothing: zarr says which
    found = _read_only_arrays.get(version)
    if found is None:
        found = group[name]
        if isinstance(found, zarr.Array) and found.read_only:
            _read_only_arrays.keep(version, found)
    return found


def remember_arrays(group: zarr.Group, arrays: dict[str, zarr.Array]) -> None:
    """Keep read-only ``arrays`` of ``group`` (by path within it) for :func:`member`."""
    for name, array in arrays.items():
        version = array_version(group, name)
        if version is not None and array.read_only:
            _read_only_arrays.keep(version, array)


class Kept:
    """Objects opened once per version of what they open, shared by threads.

    Keyed by what names that version (e.g. :func:`array_version`); at most
    ``limit`` are kept, the oldest going first.
    """

    def __init__(self, limit: int) -> None:
        self._items: dict[Any, Any] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        """The object kept under ``key``, or None."""
        with self._lock:
            return self._items.get(key)

    def keep(self, key: Any, value: Any) -> None:
        """Keep ``value`` under ``key``."""
        with self._lock:
            self._items.pop(key, None)
            while len(self._items) >= self._limit:
                del self._items[next(iter(self._items))]  # dicts keep insertion order
            self._items[key] = value


#: Read-only arrays kept by :func:`member` (a store has about ten).
_read_only_arrays = Kept(limit=256)


def is_raw_record(record: zarr.Array) -> bool:
    """Whether a ``chunks_written`` record is as showerdata writes it.

    That is a raw one-byte chunk file per entry (so that writers never share
    one) in a local store: its files are read and written directly, which
    costs microseconds where zarr's machinery costs milliseconds a call.
    """
    codecs = getattr(record.metadata, "codecs", ())
    return (
        has_chunk_files(record)
        and record.chunks == (1,)
        and record.dtype == np.uint8
        and record.fill_value == 0
        and len(codecs) == 1
        and isinstance(codecs[0], BytesCodec)
    )


def written_chunks(record: zarr.Array, chunks: np.ndarray) -> np.ndarray:
    """Which of ``chunks`` a ``chunks_written`` record marks as written."""
    raw = is_raw_record(record)
    root = store_root(record)
    written = np.zeros(len(chunks), bool)
    for position, index in enumerate(chunks.tolist() if raw else ()):
        try:
            with open(chunk_file(root, record.path, 1, index), "rb") as handle:
                byte = handle.read(2)
        except FileNotFoundError:
            continue  # the fill value: not written
        if len(byte) != 1:
            raw = False  # damaged: zarr reports it
            break
        written[position] = byte != b"\x00"
    if not raw:
        return record.get_orthogonal_selection(chunks).astype(bool)
    return written


def mark_written(record: zarr.Array, chunks: range) -> None:
    """Set the entries ``chunks`` of a ``chunks_written`` record."""
    if not is_raw_record(record):
        record[chunks.start : chunks.stop] = 1
        return
    root = store_root(record)
    for index in chunks:
        path = chunk_file(root, record.path, 1, index)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_file(path, b"\x01")


def check_chunks_present(
    group: zarr.Group, array: zarr.Array, selection: slice | np.ndarray
) -> None:
    """Raise if a chunk recorded as written has lost its file.

    Zarr reads a missing chunk as fill values, which for showers would
    silently turn a damaged store into empty showers.
    """
    name = array.path
    length = chunk_length(array)
    chunks = touched_chunks(selection, length)
    if len(chunks) == 0 or array.size == 0:
        return  # an array without values (P = 0) has no chunk files at all
    try:
        record = member(group, record_name(name))
    except KeyError:
        record = None
    if record is not None:
        if record.shape[0] != -(-array.shape[0] // length):
            raise ShowerDataError(
                f"is chunked in {length} rows, unlike the other arrays of its group "
                f"({record.shape[0]} chunks); the store's arrays must share their "
                "chunking along showers",
                path=store_root(array),
                dataset=name,
            )
        chunks = chunks[written_chunks(record, chunks)]
    root = store_root(array)
    for index in chunks.tolist():
        if not os.path.exists(chunk_file(root, name, array.ndim, index)):
            raise ShowerDataError(
                f"chunk {index} (showers {index * length} to "
                f"{(index + 1) * length - 1}) is missing from the store although "
                "it was written; the store is damaged",
                path=root,
                dataset=name,
                index=index * length,
            )


_thread_locks: dict[tuple[str, str, int], threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextmanager
def chunk_lock(root: str, record: str, index: int) -> Iterator[None]:
    """Exclusive right to rewrite part of chunk ``index`` of a group.

    Writing part of a chunk reads, modifies and rewrites the whole chunk, so
    two writers filling different rows of one chunk would lose each other's
    rows. Processes serialise on a byte-range lock (byte ``index`` of the
    group's record metadata file, which always exists); threads of one
    process on a lock of their own, since POSIX record locks are per process.
    """
    key = (root, record, index)
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(key, threading.Lock())
    lock_file = os.path.join(root, record, "zarr.json")
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
