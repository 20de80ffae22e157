"""Where zarr stores live and how they are opened: locations, checks, states.

A location is a local path, a URL that fsspec knows (``s3://bucket/prod.zarr``,
with credentials and endpoint from the usual environment variables, e.g.
``AWS_ACCESS_KEY_ID`` and ``AWS_ENDPOINT_URL``), or a zarr store object. A
showerdata store is a zarr (format 3) group with the names of the HDF5 layout
(see ``docs/file-format.md``), marked by root attributes.

Every store is untrusted input: before anything is decoded, every array is
checked to hold numbers and to use only codecs that turn bytes into numbers
(no pickle, JSON or object codecs).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import zarr
import zarr.errors
from zarr.abc.store import Store

from ...errors import ShowerDataError

#: Root attributes that mark a showerdata store, its layout version and state.
FORMAT_ATTRIBUTE = "showerdata_format"
FORMAT_NAME = "showerdata-zarr"
LAYOUT_VERSION_ATTRIBUTE = "showerdata_layout_version"
#: 1: one zarr chunk per chunk of showers; 2: one shard per chunk of showers,
#: with inner chunks of a few showers.
LAYOUT_VERSION = 2
#: "writing" while a save is under way, "complete" once every chunk is in.
#: Stores that cannot be renamed into place (object stores) rely on it.
STATE_ATTRIBUTE = "showerdata_state"
WRITING, COMPLETE = "writing", "complete"
#: Root attributes that describe the store, not the data.
STORE_ATTRIBUTES = (FORMAT_ATTRIBUTE, LAYOUT_VERSION_ATTRIBUTE, STATE_ATTRIBUTE)
#: Per-group record of the chunks of showers that are completely written.
CHUNKS_WRITTEN = "chunks_written"
#: Codecs an array may use: byte order, compression, checksums, transposition
#: and sharding (whose inner codecs are checked too). Refused by name whatever
#: the installed codec registry provides.
SAFE_CODECS = frozenset(
    {"bytes", "endian", "blosc", "zstd", "gzip", "crc32c", "transpose"}
    | {"sharding_indexed"}
    | {
        f"numcodecs.{name}"
        for name in (
            "blosc lz4 zstd zlib gzip bz2 lzma shuffle delta "
            "crc32 crc32c adler32 fletcher32 jenkins_lookup3"
        ).split()
    }
)
#: How arrays are written: see :meth:`OpenedStore.writable`.
WRITE_CONFIG = {"array.write_empty_chunks": True}
#: numpy dtype kinds of the layout's arrays: booleans, integers and floats.
NUMERIC_KINDS = "biuf"

Location = str | os.PathLike[str] | Any  # a path, a URL or a zarr store object


def is_url(location: Any) -> bool:
    """Whether ``location`` is a URL such as ``s3://bucket/prod.zarr``."""
    return isinstance(location, str) and "://" in location


def is_local(location: Any) -> bool:
    """Whether ``location`` is a path of the local file system."""
    return isinstance(location, (str, os.PathLike)) and not is_url(location)


def is_store_object(location: Any) -> bool:
    """Whether ``location`` is a zarr store object (not a path or URL)."""
    return isinstance(location, Store)


def describe(location: Any) -> str:
    """How errors name a location."""
    if is_local(location):
        return os.fspath(location)
    if is_url(location):
        return str(location)
    return repr(location)


class OpenedStore:
    """An open showerdata group whose arrays are looked up once.

    zarr reads an array's metadata on every ``group[name]``; the check made
    on opening listed them all already. Anything else is the group's.
    """

    def __init__(self, group: zarr.Group, arrays: dict[str, zarr.Array]) -> None:
        self.group = group
        self.arrays = arrays
        self.writables: dict[str, zarr.Array] = {}

    def __getitem__(self, name: str) -> Any:
        found = self.arrays.get(name)
        return found if found is not None else self.group[name]

    def __contains__(self, name: str) -> bool:
        return name in self.arrays or name in self.group

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def writable(self, name: str) -> zarr.Array:
        """Array ``name`` opened for writing every chunk it is given.

        A chunk equal to the fill value is written too: zarr would skip one
        of ``-0.0`` (equal to 0 but not it) and read back ``0.0``.
        """
        found = self.writables.get(name)
        if found is None:
            path = "/".join(part for part in (self.group.path, name) if part)
            # An array takes its settings from zarr's configuration when it
            # is opened and keeps them (open_array's own config= is not
            # honoured by every zarr 3 release).
            with zarr.config.set(WRITE_CONFIG):
                found = zarr.open_array(store=self.group.store, path=path, mode="r+")
            self.writables[name] = found
        return found

    def __delitem__(self, name: str) -> None:
        prefix = f"{name}/"
        for kept in (self.arrays, self.writables):
            for key in [k for k in kept if k == name or k.startswith(prefix)]:
                del kept[key]
        del self.group[name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.group, name)


def describe_store(node: Any) -> str:
    """The store holding ``node`` (an array or group), as errors name it.

    A local store is its directory; a store of an fsspec filesystem its URL
    (``s3://bucket/prod.zarr``), as the user wrote it.
    """
    store = node.store
    root = getattr(store, "root", None)
    if root is not None:
        return str(root)
    if isinstance(store, zarr.storage.FsspecStore):
        return store.fs.unstrip_protocol(store.path)
    return str(store)


def location_of(group: Any) -> Location:
    """The location a task reopens ``group`` by: a path, or the store object."""
    store = group.store
    root = getattr(store, "root", None)
    if root is not None:
        return os.path.join(str(root), group.path) if group.path else str(root)
    return store


def open_store(location: Location, mode: str = "r") -> OpenedStore:
    """Open a showerdata zarr store, with errors that name it.

    Parameters
    ----------
    location : str, os.PathLike or zarr store
        Local path, URL or store object.
    mode : {'r', 'r+'}
        Read only, or read and write.

    Raises
    ------
    FileNotFoundError
        Nothing at ``location``.
    ShowerDataError
        Not a showerdata store, an unsafe or unreadable one, or one whose save
        did not finish (read mode).
    """
    name = describe(location)
    if is_local(location):
        path = os.fspath(location)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such shower store: '{path}'")
        if not os.path.isdir(path):
            raise NotADirectoryError(f"'{path}' is a file, not a zarr store directory.")
        location = path
    try:
        group = zarr.open_group(store=location, mode=mode)
    except (zarr.errors.GroupNotFoundError, zarr.errors.NodeTypeValidationError):
        if not is_local(location):
            raise FileNotFoundError(f"No such shower store: '{name}'") from None
        raise ShowerDataError(
            "is not a zarr group (no zarr.json of a group)", path=name
        ) from None
    except FileNotFoundError:
        raise FileNotFoundError(f"No such shower store: '{name}'") from None
    except (ValueError, TypeError) as error:
        raise ShowerDataError(
            f"is not a readable zarr store: {error}", path=name
        ) from error
    except OSError as error:
        raise OSError(f"cannot read the zarr store '{name}': {error}") from error
    return OpenedStore(group, check_showerdata_store(group, name, mode))


def check_showerdata_store(
    group: zarr.Group, name: str, mode: str
) -> dict[str, zarr.Array]:
    """Raise unless ``group`` is a safe, readable showerdata store; its arrays."""
    attributes = group.attrs
    if attributes.get(FORMAT_ATTRIBUTE) != FORMAT_NAME:
        raise ShowerDataError(
            f"is a zarr group but not a showerdata store (no root attribute "
            f"{FORMAT_ATTRIBUTE} = '{FORMAT_NAME}')",
            path=name,
        )
    if mode == "r" and attributes.get(STATE_ATTRIBUTE, COMPLETE) != COMPLETE:
        raise ShowerDataError(
            "was not completely written (its save was interrupted); finish it "
            "with the same save(..., resume=True), or save again",
            path=name,
        )
    return check_plain_arrays(group, name)


def check_plain_arrays(group: zarr.Group, name: str) -> dict[str, zarr.Array]:
    """Refuse a store unless every array is numbers stored with :data:`SAFE_CODECS`.

    Returns the arrays, by path within the group.
    """
    if group.metadata.zarr_format != 3:
        raise ShowerDataError(
            f"is a zarr format {group.metadata.zarr_format} group; showerdata "
            "stores are zarr format 3",
            path=name,
        )
    try:
        with warnings.catch_warnings(record=True) as passed_over:
            warnings.simplefilter("always")
            members = list(group.members(max_depth=None))
    except (ValueError, TypeError, KeyError) as error:  # zarr's metadata errors
        raise ShowerDataError(
            f"has array metadata that cannot be read safely: {error}", path=name
        ) from None
    for warning in passed_over:
        # Some zarr versions pass over a node whose metadata they cannot read
        # (an unknown codec) with only a warning: that node is refused here.
        # Temporary files a killed writer left are not nodes; they may stay.
        text = str(warning.message)
        if "is not recognized" in text and ".partial" not in text:
            raise ShowerDataError(
                f"has array metadata that cannot be read safely: {text}", path=name
            )
    arrays = {key: node for key, node in members if isinstance(node, zarr.Array)}
    for key, array in arrays.items():
        check_plain_array(array, name, key)
    return arrays


def check_plain_array(array: zarr.Array, name: str, key: str) -> None:
    """Raise unless ``array`` holds numbers and uses only :data:`SAFE_CODECS`."""
    metadata = array.metadata
    if metadata.zarr_format != 3:
        raise ShowerDataError(
            f"is a zarr format {metadata.zarr_format} array", path=name, dataset=key
        )
    try:
        kind = np.dtype(array.dtype).kind
    except TypeError:
        kind = "O"
    if kind not in NUMERIC_KINDS:
        raise ShowerDataError(
            f"has data type {metadata.data_type}; the layout holds only numbers",
            path=name,
            dataset=key,
        )
    unsafe = sorted(codec_names(c.to_dict() for c in metadata.codecs) - SAFE_CODECS)
    if unsafe:
        raise ShowerDataError(
            f"uses codec {', '.join(unsafe)}, which is not a plain numeric codec; "
            f"allowed: {', '.join(sorted(SAFE_CODECS))}",
            path=name,
            dataset=key,
        )


def codec_names(codecs: Any) -> set[str]:
    """Names of codecs given as JSON dicts, with those nested in sharding codecs."""
    names: set[str] = set()
    for codec in codecs:
        names.add(str(codec.get("name")))
        configuration = codec.get("configuration") or {}
        for key in ("codecs", "index_codecs"):
            names |= codec_names(configuration.get(key) or [])
    return names


def shard_length(array: zarr.Array) -> int:
    """Rows of ``array`` that one writer owns: a shard, or a chunk if unsharded."""
    shards = array.shards
    return int((shards or array.chunks)[0]) if array.ndim else 1


def fingerprint(location: Location) -> tuple[int, int] | None:
    """(size, mtime) of a local store's root metadata, which a replaced store
    rewrites; None where it cannot be known cheaply (object stores, store objects).
    """
    if not is_local(location):
        return None
    stat = os.stat(os.path.join(os.fspath(location), "zarr.json"))
    return (stat.st_size, stat.st_mtime_ns)


def identity(location: Location) -> tuple[Any, ...] | None:
    """Changes when a local store is replaced or its root metadata edited.

    None where it cannot be known cheaply (object stores, store objects).
    """
    if not is_local(location):
        return None
    path = os.fspath(location)
    directory = os.stat(path)
    try:
        root = os.stat(os.path.join(path, "zarr.json"))
    except (FileNotFoundError, NotADirectoryError):
        return (directory.st_ino, directory.st_mtime_ns, -1)
    return (directory.st_ino, root.st_mtime_ns, root.st_size)
