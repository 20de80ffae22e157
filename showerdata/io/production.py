"""A production: many shower files read as one, described without reading rows.

Each file's header (length, P, F, root attributes) is read once, in parallel,
or taken from an index file (:mod:`.index`) without touching the files. The
files are then checked against each other: F must agree, P is padded to the
largest, root attributes are kept where all files agree, and files clustered
for different detectors are refused.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from dask.base import tokenize

from ..attributes import shared_attributes as common_attributes
from ..errors import MissingDataError, ShowerDataError
from .backends import backend_for, location_key
from .files import opened
from .inputs import expand_inputs, is_index
from .layout import PointsHeader
from .lazy import (
    check_per_shower_datasets,
    location_name,
    read_particles_length,
    read_points_header,
)

#: Threads reading headers: file systems and object stores answer many
#: requests at once (local HDF5 files are read one at a time by h5py anyway).
HEADER_THREADS = 16


@dataclass(frozen=True)
class FileEntry:
    """One file of a production, as its header (or an index) describes it.

    Graph tasks carry entries: a task checks the file's ``fingerprint``
    before reading, so rows of a replaced file are never read as the ones
    described here.
    """

    location: Any
    num_rows: int
    max_points: int | None  # None: the file holds incident particles only
    num_features: int | None
    dense: bool  # points stored padded (zarr) or as ragged rows (HDF5)
    chunk_length: int | None  # the store's own chunk of showers (zarr shards)
    fingerprint: Any  # see Backend.fingerprint; None: unchecked
    listed_in: str | None = None  # the index file that described it

    @property
    def name(self) -> str:
        """The file's path as errors and provenance give it."""
        return location_name(self.location)

    @property
    def has_showers(self) -> bool:
        return self.max_points is not None

    def header(self) -> PointsHeader:
        """The header of the showers (no read: the entry holds it)."""
        assert self.max_points is not None and self.num_features is not None
        return PointsHeader(
            self.location,
            "showers",
            "num_points",
            self.num_rows,
            self.max_points,
            self.num_features,
            self.dense,
        )


def read_entry(location: Any) -> tuple[FileEntry, dict[str, Any]]:
    """Read and check one file's header and root attributes."""
    backend = backend_for(location)
    # Before reading: a file replaced while we read is then caught later.
    fingerprint = backend.fingerprint(location)
    with opened(location) as handle:
        file = backend.header_view(handle)
        if "shape" in file or "showers" in file:
            header = read_points_header(location, "showers", file)
            check_per_shower_datasets(header, file)
            entry = FileEntry(
                location,
                header.num_showers,
                header.max_points,
                header.num_features,
                header.dense,
                backend.chunk_length(file[header.rows]),
                fingerprint,
            )
        else:
            length = read_particles_length(location, with_ids=False, file=file)
            chunk = backend.chunk_length(file["energies"])
            entry = FileEntry(
                location, length, None, None, backend.DENSE, chunk, fingerprint
            )
        hidden = backend.STORE_ATTRIBUTES
        attrs = {k: v for k, v in file.attrs.items() if k not in hidden}
    return entry, attrs


def read_entries(
    locations: Sequence[Any],
) -> tuple[list[FileEntry], list[dict[str, Any]]]:
    """Headers of many files, read in parallel; the first bad file's error is raised."""
    threads = max(1, min(HEADER_THREADS, len(locations)))
    if threads == 1:
        results = [read_entry(location) for location in locations]
    else:
        with ThreadPoolExecutor(
            threads, thread_name_prefix="showerdata-header"
        ) as pool:
            results = list(pool.map(read_entry, locations))
    return [entry for entry, _ in results], [attrs for _, attrs in results]


@dataclass(frozen=True, eq=False)
class Production:
    """The files of a production, their row offsets and their shared attributes."""

    name: str  # what the user gave: a pattern, directory, index file or list
    entries: tuple[FileEntry, ...]
    offsets: np.ndarray  # row of the production where each file starts; then N
    attrs: dict[str, Any]  # root attributes all files agree on
    token: str  # names the files and their identities in graph keys

    @property
    def num_rows(self) -> int:
        return int(self.offsets[-1])

    def showers_shape(self) -> tuple[int, int, int]:
        """(N, largest P, F) of the showers; errors name a file that differs."""
        check_showers(self)
        entries = self.entries
        return (
            self.num_rows,
            max(int(e.max_points or 0) for e in entries),
            int(entries[0].num_features or 0),
        )


def open_production(path: Any) -> Production:
    """Describe the production ``path`` names: a glob, list, directory or index file.

    Raises
    ------
    FileNotFoundError
        A glob that matches nothing, a missing file or index.
    ShowerDataError
        A file that is not a shower file, or files clustered for different
        detectors (errors name the file).
    """
    if is_index(path):
        from .index import read_index

        index_path = os.fspath(path)
        entries, attributes, digest = read_index(index_path)
        token = tokenize(os.path.abspath(index_path), digest)
        name = index_path
    else:
        locations = expand_inputs(path)
        entries, attributes = read_entries(locations)
        # One digest of the files' names and fingerprints: dask's tokenize of
        # a list walks every element, 0.1 ms per file.
        listing = "\n".join(
            f"{location_key(e.location)}\t{e.fingerprint}" for e in entries
        )
        token = hashlib.sha1(listing.encode()).hexdigest()
        name = _name_of(path)
    offsets = np.zeros(len(entries) + 1, dtype=np.int64)
    np.cumsum([e.num_rows for e in entries], out=offsets[1:])
    attrs = shared_attributes(entries, attributes)
    return Production(name, tuple(entries), offsets, attrs, token)


def _name_of(path: Any) -> str:
    if isinstance(path, (list, tuple)):
        return f"[{len(path)} paths]"
    return location_name(path)


def shared_attributes(
    entries: Sequence[FileEntry], attributes: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Root attributes every file has with the same value.

    Raises
    ------
    ShowerDataError
        Files clustered for different detectors (``clustered_for``, where a
        file without it counts as not clustered): mixing them is a mistake.
    """
    first_with: dict[str, str] = {}
    for entry, attrs in zip(entries, attributes, strict=True):
        value = str(attrs.get("clustered_for", ""))
        first_with.setdefault(value, entry.name)
    if len(first_with) > 1:
        (value_a, file_a), (value_b, file_b) = list(first_with.items())[:2]
        raise ShowerDataError(
            f"is clustered for {value_b or 'no detector'!r} but '{file_a}' for "
            f"{value_a or 'no detector'!r}: a production mixes showers of different "
            "detectors",
            path=file_b,
        )
    return common_attributes(attributes)


def check_showers(production: Production) -> None:
    """Raise unless every file holds showers with one F.

    Raises
    ------
    ShowerDataError
        A file holding only incident particles, or two files whose number of
        features per point F differ (naming one file of each).
    """
    first: dict[int, str] = {}
    for entry in production.entries:
        if not entry.has_showers:
            raise MissingDataError(
                f"file '{entry.name}': holds no showers (only incident particles); "
                f"every file of production '{production.name}' must hold showers."
            )
        first.setdefault(int(entry.num_features or 0), entry.name)
    if len(first) > 1:
        (f_a, file_a), (f_b, file_b) = list(first.items())[:2]
        raise ShowerDataError(
            f"has F = {f_b} features per point but '{file_a}' has F = {f_a}: the "
            "files of a production must agree on F",
            path=file_b,
        )


__all__ = [
    "FileEntry",
    "Production",
    "check_showers",
    "open_production",
    "read_entries",
    "read_entry",
    "shared_attributes",
]
