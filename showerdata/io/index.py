"""Index files: a production's headers written once, so opening it reads no file.

An index is a JSON document listing, for every file in order, its path
(relative to the index when the file lies below the index's directory), its
format, length, P, F, stored chunk length, root attributes and fingerprint
(size and modification time). ``load("prod.index.json")`` builds the lazy
showers from it alone; each read then checks the fingerprint of the file it
reads, so a file replaced after the index was written is an error, never
wrong rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import numpy as np

from ..errors import ShowerDataError
from .inputs import expand_inputs
from .production import FileEntry, read_entries

#: Written as ``showerdata_index``; readers refuse other versions.
INDEX_VERSION = 1


def write_index(inputs: Any, output: str | os.PathLike[str]) -> int:
    """Read the headers of a production's files and write them to an index file.

    Parameters
    ----------
    inputs : str, os.PathLike or list
        A glob, directory or list of local shower files.
    output : str or os.PathLike
        Index file to write (``*.json``); replaced if it exists. It appears
        only when complete.

    Returns
    -------
    int
        Number of files indexed.

    Examples
    --------
    >>> write_index("prod/part-*.h5", "prod/prod.index.json")  # doctest: +SKIP
    12
    """
    output = os.fspath(output)
    if not output.endswith(".json"):
        raise ValueError(f"an index file's name ends in .json, got '{output}'.")
    locations = expand_inputs(inputs)
    for location in locations:
        if not isinstance(location, str) or "://" in location:
            raise ValueError(
                f"only local files can be indexed, got {location!r}: their "
                "fingerprints (size, modification time) are what an index checks."
            )
    entries, attributes = read_entries(locations)
    base = os.path.dirname(os.path.abspath(output))
    document = {
        "showerdata_index": INDEX_VERSION,
        "files": [
            _entry_record(entry, attrs, base)
            for entry, attrs in zip(entries, attributes, strict=True)
        ],
    }
    text = json.dumps(document, separators=(",", ":"))
    temporary = os.path.join(
        base, f".{os.path.basename(output)}.{uuid.uuid4().hex}.partial"
    )
    # os.open with 0o666 leaves the mode to the umask, as for the data files
    # (mkstemp would make the index readable by its owner only).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, output)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return len(entries)


def _entry_record(entry: FileEntry, attrs: dict[str, Any], base: str) -> dict:
    path = os.path.abspath(entry.location)
    relative = os.path.relpath(path, base)
    if not relative.startswith(os.pardir):
        path = relative
    return {
        "path": path,
        "format": "zarr" if entry.dense else "hdf5",
        "num_rows": entry.num_rows,
        "max_points": entry.max_points,
        "num_features": entry.num_features,
        "chunk_length": entry.chunk_length,
        "fingerprint": list(entry.fingerprint),
        "attrs": {key: _json_value(value) for key, value in attrs.items()},
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def read_index(
    path: str,
) -> tuple[list[FileEntry], list[dict[str, Any]], str]:
    """Entries and attributes an index file lists, and a digest of its text.

    Raises
    ------
    FileNotFoundError
        No index file at ``path``.
    ShowerDataError
        The file is not a showerdata index (names it).
    """
    try:
        with open(path, "rb") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"No such index file: '{path}'") from None
    try:
        document = json.loads(text)
        if document.get("showerdata_index") != INDEX_VERSION:
            raise ValueError(
                f"index version {document.get('showerdata_index')!r}, expected "
                f"{INDEX_VERSION}"
            )
        records = document["files"]
        if not records:
            raise ValueError("it lists no files")
        base = os.path.dirname(path)
        entries = [_entry(record, base, path) for record in records]
        attributes = [dict(record.get("attrs", {})) for record in records]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ShowerDataError(
            f"not a showerdata index file ({error}); write one with `showerdata index`",
            path=path,
        ) from None
    return entries, attributes, hashlib.sha1(text).hexdigest()


def _entry(record: dict, base: str, index: str) -> FileEntry:
    location = os.path.join(base, record["path"])
    dense = record["format"] == "zarr"
    max_points = record["max_points"]
    return FileEntry(
        location=location,
        num_rows=int(record["num_rows"]),
        max_points=None if max_points is None else int(max_points),
        num_features=None if max_points is None else int(record["num_features"]),
        dense=dense,
        chunk_length=record.get("chunk_length"),
        fingerprint=tuple(record["fingerprint"]),
        listed_in=index,
    )


__all__ = ["INDEX_VERSION", "read_index", "write_index"]
