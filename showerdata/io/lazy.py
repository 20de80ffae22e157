"""Lazy reading of the showerdata layout, whatever the format.

Every task reads one selection of rows through the file manager
(:func:`.files.opened`), so a graph carries ``(location, dataset, rows)`` and
pickles to any worker. What differs between formats -- how rows are read and
padded -- is the backend's (:mod:`.backends`); the checks of the layout and
the graphs are here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import h5py
import numpy as np
from dask.base import tokenize

from ..buffers import zeros
from ..bundle import Source
from ..config import showers_per_chunk
from ..deferred import dask_array as da
from ..errors import MissingDataError, ShowerDataError
from ..graphs import lazy_from_tasks
from ..indexing import Selection, compose, selection_length
from ..showers import NUM_FEATURES_CHOICES, IncidentParticles, Showers
from .backends import backend_for, location_key
from .files import opened
from .layout import PARTICLE_FIELDS, PER_SHOWER, PointsHeader, points_dataset_names

PARTICLE_DTYPES = {name: PER_SHOWER[name][0] for name in PARTICLE_FIELDS}
SHOWER_DTYPES = {name: dtype for name, (dtype, _) in PER_SHOWER.items()}


# -- layout checks --------------------------------------------------------------


def require_dataset(file: Any, name: str, path: Any) -> Any:
    """Dataset ``name`` of an HDF5 file or zarr group, or :class:`MissingDataError`."""
    try:
        item = file[name] if name in file else None
    except KeyError:
        item = None
    if item is None:
        # 0.7's text first (its readers said "HDF5 file" for every format).
        raise MissingDataError(
            f"Key '{name}' not found in HDF5 file. (file '{path}': dataset '{name}' "
            "not found: not a showerdata file, or written without it)"
        )
    if not backend_for(path).is_dataset(item):
        raise ShowerDataError(
            "expected a dataset, found a group", path=path, dataset=name
        )
    return item


def require_numeric_dataset(file: Any, name: str, path: Any) -> Any:
    """Dataset ``name`` if it holds numbers (bool, int, float), else an error.

    For datasets the layout does not fix the shape of (observables): opaque,
    string or object data is refused before it is read, never handed on.
    """
    dataset = require_dataset(file, name, path)
    if dataset.dtype.kind not in "biuf":
        raise ShowerDataError(
            f"has dtype {dataset.dtype}, expected numbers", path=path, dataset=name
        )
    return dataset


def check_dataset(
    dataset: Any, path: Any, name: str, kinds: str, shape: tuple[int, ...]
) -> None:
    """Raise :class:`ShowerDataError` unless dtype kind and shape match."""
    if dataset.dtype.kind not in kinds:
        raise ShowerDataError(
            f"has dtype {dataset.dtype}, expected "
            + ("a float" if kinds == "f" else "an integer")
            + " type",
            path=path,
            dataset=name,
        )
    if tuple(dataset.shape) != shape:
        raise ShowerDataError(
            f"has shape {tuple(dataset.shape)}, expected {shape}",
            path=path,
            dataset=name,
        )


def read_points_header(
    path: Any, key: str = "showers", file: Any = None
) -> PointsHeader:
    """Read and check the shape and datasets of a point-cloud key.

    ``file``: an open handle of ``path`` to use; by default the file is
    opened for this read only.
    """
    if file is None:
        with opened(path) as file:
            return read_points_header(path, key, file)
    rows_name, shape_name, num_points_name = points_dataset_names(key)
    # The rows first, as 0.7 read them first: a missing key names them.
    rows = require_dataset(file, rows_name, path)
    shape_ds = require_dataset(file, shape_name, path)
    if shape_ds.dtype.kind not in "iu" or tuple(shape_ds.shape) != (3,):
        raise ShowerDataError(
            f"must hold 3 integers (N, P, F), has dtype {shape_ds.dtype} and shape "
            f"{shape_ds.shape}",
            path=path,
            dataset=shape_name,
        )
    num_showers, max_points, num_features = (int(v) for v in shape_ds[()])
    # Targets may carry any number of features; the showers have 4 or 5.
    features = NUM_FEATURES_CHOICES if key == "showers" else range(1, 2**31)
    if min(num_showers, max_points) < 0 or num_features not in features:
        allowed = "4 or 5" if key == "showers" else "at least 1"
        raise ShowerDataError(
            f"holds {(num_showers, max_points, num_features)}; (N, P, F) must be "
            f"non-negative with F {allowed}",
            path=path,
            dataset=shape_name,
        )
    dense = backend_for(path).DENSE
    if dense:
        check_dataset(
            rows, path, rows_name, "f", (num_showers, max_points, num_features)
        )
    elif not _is_vlen_float(rows.dtype) or rows.ndim != 1:
        raise ShowerDataError(
            f"must be a 1-D variable-length float dataset, has dtype {rows.dtype} and "
            f"shape {rows.shape}",
            path=path,
            dataset=rows_name,
        )
    if rows.shape[0] != num_showers:
        raise ShowerDataError(
            f"has {rows.shape[0]} rows but '{shape_name}' says {num_showers} showers",
            path=path,
            dataset=rows_name,
        )
    num_points = require_dataset(file, num_points_name, path)
    check_dataset(num_points, path, num_points_name, "iu", (num_showers,))
    return PointsHeader(
        path, rows_name, num_points_name, num_showers, max_points, num_features, dense
    )


def _is_vlen_float(dtype: np.dtype) -> bool:
    base = h5py.check_vlen_dtype(dtype)
    return base is not None and np.dtype(base).kind == "f"


def read_particles_length(path: Any, with_ids: bool, file: Any = None) -> int:
    """Check the per-shower datasets and return their common length."""
    if file is None:
        with opened(path) as file:
            return read_particles_length(path, with_ids, file)
    length = require_dataset(file, "energies", path).shape[0]
    for name in (*PARTICLE_FIELDS, "shower_ids") if with_ids else PARTICLE_FIELDS:
        dtype, tail = PER_SHOWER[name]
        kinds = "f" if dtype.startswith("float") else "iu"
        dataset = require_dataset(file, name, path)
        check_dataset(dataset, path, name, kinds, (length, *tail))
    return length


# -- tasks ------------------------------------------------------------------------


def read_selection(path: Any, file: Any, name: str, selection: Selection) -> np.ndarray:
    """``file[name][selection]`` for a forward slice or any array of rows."""
    return backend_for(path).read_selection(file, name, selection)


def file_row(selection: Selection, position: int) -> int:
    """Row of the file holding the ``position``-th selected shower."""
    if isinstance(selection, slice):
        return selection.start + position * selection.step
    return int(selection[position])


def read_field(path: Any, name: str, selection: Selection, dtype: str) -> np.ndarray:
    """Task: rows of a per-shower dataset, cast to ``dtype``."""
    with opened(path) as file:
        values = read_selection(path, file, name, selection)
    return np.asarray(values, dtype=dtype)


def read_num_points(
    path: Any, name: str, selection: Selection, max_points: int
) -> np.ndarray:
    """Task: num_points of the rows, clipped to a shortened point axis."""
    counts = read_field(path, name, selection, "int32")
    return np.minimum(counts, max_points, dtype=np.int32)


def read_points(
    header: PointsHeader,
    selection: Selection,
    max_points: int,
    check_energies: bool,
) -> np.ndarray:
    """Task: padded block of the selected rows, checked against num_points."""
    with opened(header.path) as file:
        return read_points_from(file, header, selection, max_points, check_energies)


def read_points_from(
    file: Any,
    header: PointsHeader,
    selection: Selection,
    max_points: int,
    check_energies: bool,
    out: np.ndarray | None = None,
    stored: np.ndarray | None = None,
) -> np.ndarray:
    """Padded block of the selected rows of an open file (see :func:`read_points`).

    ``out``, if given, is a zero-filled block that receives the points (e.g.
    a slice of the whole result). ``stored``, if given, is the rows'
    num_points as stored, read already.
    """
    backend = backend_for(header.path)
    if stored is None:
        stored = backend.read_selection(file, header.num_points, selection)
    stored = np.asarray(stored).astype(np.int64)
    try:
        return backend.read_points(
            file, header, selection, stored, max_points, check_energies, out
        )
    except ShowerDataError as error:
        if error.path is not None:
            raise
        raise ShowerDataError(
            error.problem,
            path=header.path,
            dataset=error.dataset or header.rows,
            index=file_row(selection, error.index or 0),
            v07_message=error.v07_message,
        ) from None


def read_shower_rows(
    file: Any,
    header: PointsHeader,
    selection: Selection,
    max_points: int | None = None,
    chunk_length: int | None = None,
) -> Showers:
    """In-memory :class:`Showers` of the selected rows of an open file.

    The rows are read ``chunk_length`` at a time straight into the result, so
    temporary memory stays at one chunk of rows.
    """
    max_points = header.max_points if max_points is None else max_points
    fields = {
        name: np.asarray(read_selection(header.path, file, name, selection), dtype)
        for name, dtype in SHOWER_DTYPES.items()
    }
    stored = fields["num_points"]
    fields["num_points"] = np.minimum(stored, max_points)
    length = len(stored)
    # Zero pages are mapped lazily: padding that is never written costs nothing.
    points = zeros((length, max_points, header.num_features))
    step = chunk_length or max(length, 1)
    for first, piece in zip(
        range(0, length, step),
        split_selection(selection, header.num_showers, step),
        strict=False,
    ):
        block = points[first : first + step]
        counts = stored[first : first + step]
        read_points_from(file, header, piece, max_points, True, block, counts)
    fields["points"] = points
    return Showers._from_fields(fields)


# -- graphs -----------------------------------------------------------------------


def split_selection(selection: Selection, length: int, chunk: int) -> list[Selection]:
    """Cut a selection into consecutive pieces of ``chunk`` showers."""
    count = selection_length(selection, length)
    if count == 0:
        return [slice(0, 0, 1)]
    pieces = []
    for first in range(0, count, chunk):
        last = min(first + chunk, count)
        if isinstance(selection, slice):
            step = selection.step
            start = selection.start + first * step
            pieces.append(slice(start, selection.start + (last - 1) * step + 1, step))
        else:
            pieces.append(selection[first:last])
    return pieces


@dataclass(frozen=True)
class StoredRows:
    """A lazily read selection of a file's rows (see ``bundle.StoredSelection``)."""

    path: Any  # the location: a path, URL or zarr store object
    kind: type  # Showers or IncidentParticles
    num_rows: int
    selection: Selection
    chunk_length: int
    header: PointsHeader | None = None  # for showers
    max_points: int = 0

    def select(self, selection: Selection) -> Any:
        return self.narrowed(selection).to_bundle()

    def narrowed(self, selection: Selection) -> StoredRows:
        rows = compose(self.selection, selection, self.num_rows)
        return replace(self, selection=rows)

    def sources(self) -> list[Source]:
        count = selection_length(self.selection, self.num_rows)
        return [Source(location_name(self.path), count)] if count else []

    def locate(self, position: int) -> tuple[str, int]:
        return location_name(self.path), file_row(self.selection, position)

    def file_count(self) -> int:
        return 1

    def read(self) -> Any:
        """The rows in memory, read now (eagerly or in a graph's task)."""
        with opened(self.path) as file:
            return self._read_from(file)

    def _read_from(self, file: Any) -> Any:
        if self.kind is IncidentParticles:
            return IncidentParticles._from_fields(
                {
                    name: np.asarray(
                        read_selection(self.path, file, name, self.selection), dtype
                    )
                    for name, dtype in PARTICLE_DTYPES.items()
                }
            )
        assert self.header is not None
        return read_shower_rows(
            file, self.header, self.selection, self.max_points, self.chunk_length
        )

    def to_bundle(self) -> Any:
        pieces = split_selection(self.selection, self.num_rows, self.chunk_length)
        lengths = [selection_length(p, self.num_rows) for p in pieces]
        token = tokenize(location_token(self.path), self.selection, self.chunk_length)

        def field(name: str) -> da.Array:
            dtype, tail = PER_SHOWER[name]
            args = [(self.path, name, piece, dtype) for piece in pieces]
            return lazy_from_tasks(
                f"{name}-{token}", read_field, args, lengths, tail, dtype
            )

        fields = {name: field(name) for name in PARTICLE_FIELDS}
        if self.kind is IncidentParticles:
            return IncidentParticles._from_fields(fields, source=self)
        assert self.header is not None
        header, max_points = self.header, self.max_points
        fields["shower_ids"] = field("shower_ids")
        fields["points"], fields["num_points"] = lazy_point_clouds(
            header, pieces, lengths, max_points, True, token
        )
        return Showers._from_fields(fields, source=self)


def lazy_point_clouds(
    header: PointsHeader,
    pieces: list[Selection],
    lengths: list[int],
    max_points: int,
    check_energies: bool,
    token: str,
) -> tuple[da.Array, da.Array]:
    """Lazy padded points and num_points of ``header``'s rows, one task per piece."""
    name = f"{header.rows}-{max_points}-{token}"
    points = lazy_from_tasks(
        f"points-{name}",
        read_points,
        [(header, p, max_points, check_energies) for p in pieces],
        lengths,
        (max_points, header.num_features),
        "float32",
    )
    num_points = lazy_from_tasks(
        f"num_points-{name}",
        read_num_points,
        [(header.path, header.num_points, p, max_points) for p in pieces],
        lengths,
        (),
        "int32",
    )
    return points, num_points


def rows_selection(path: Any, num_rows: int, start: int, stop: int | None) -> slice:
    """The slice of rows for ``start``/``stop`` arguments, as 0.7 took them.

    Python's slicing rules: negative values count from the end, and a
    ``stop`` past the end (or a negative one before the start) clips. A
    ``start`` past the end is an :class:`IndexError`: it selects nothing,
    which is never what a caller meant.
    """
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)):
        raise TypeError(f"start must be an integer, got {start!r}.")
    if stop is not None and (
        isinstance(stop, bool) or not isinstance(stop, (int, np.integer))
    ):
        raise TypeError(f"stop must be an integer or None, got {stop!r}.")
    if start > num_rows:
        raise IndexError(
            f"file '{path}': start={start} is past the end of its {num_rows} showers."
        )
    first, last, _ = slice(start, stop).indices(num_rows)
    return slice(first, max(first, last), 1)


def location_name(location: Any) -> str:
    """How provenance names a location: the path or URL given, or the store's text."""
    if isinstance(location, str):
        return location
    return os.fspath(location) if isinstance(location, os.PathLike) else str(location)


def location_token(location: Any) -> Any:
    """What names a location's data in graph keys: it changes when the file does."""
    return (location_key(location), backend_for(location).identity(location))


def default_chunk_length(file: Any, header: PointsHeader, max_points: int) -> int:
    """Showers per dask chunk: a zarr store's own shards, else ~chunk-bytes."""
    stored = backend_for(header.path).chunk_length(file[header.rows])
    return stored or showers_per_chunk(max_points, header.num_features)


def check_per_shower_datasets(header: PointsHeader, file: Any) -> None:
    """Check dtypes and shapes of the per-shower datasets against the showers'."""
    length = read_particles_length(header.path, with_ids=True, file=file)
    if length != header.num_showers:
        raise ShowerDataError(
            f"has {length} rows but 'shape' says {header.num_showers} showers",
            path=header.path,
            dataset="energies",
        )


def points_axis(header: PointsHeader, max_points: int | None) -> int:
    """Length of the padded point axis asked for (-1 or None: the file's P)."""
    return header.max_points if max_points is None or max_points < 0 else max_points


def stored_showers(
    path: Any,
    start: int = 0,
    stop: int | None = None,
    max_points: int | None = -1,
    chunks: int | None = None,
    key: str = "showers",
) -> StoredRows:
    """The rows ``start:stop`` of a file's showers, checked, before any graph.

    ``.read()`` reads them into memory with no graph (the 0.7 mode),
    ``.to_bundle()`` gives the lazy :class:`Showers`.
    """
    with opened(path) as file:
        header = read_points_header(path, key, file)
        check_per_shower_datasets(header, file)
        width = points_axis(header, max_points)
        chunk = chunks or default_chunk_length(file, header, width)
    stored = StoredRows(
        path=path,
        kind=Showers,
        num_rows=header.num_showers,
        selection=rows_selection(path, header.num_showers, start, stop),
        chunk_length=chunk,
        header=header,
        max_points=width,
    )
    return stored


def stored_particles(
    path: Any, start: int = 0, stop: int | None = None, chunks: int | None = None
) -> StoredRows:
    """The rows ``start:stop`` of a file's incident particles (see stored_showers)."""
    with opened(path) as file:
        length = read_particles_length(path, with_ids=False, file=file)
        stored_chunk = backend_for(path).chunk_length(file["energies"])
    return StoredRows(
        path=path,
        kind=IncidentParticles,
        num_rows=length,
        selection=rows_selection(path, length, start, stop),
        chunk_length=chunks or stored_chunk or 2**20,
    )


def open_target(
    path: Any,
    key: str,
    start: int = 0,
    stop: int | None = None,
    max_points: int | None = -1,
    chunks: int | None = None,
) -> tuple[da.Array, da.Array]:
    """Lazy ``(points, num_points)`` of a target key; no energy checks apply."""
    with opened(path) as file:
        header = read_points_header(path, key, file)
        width = points_axis(header, max_points)
        chunk = chunks or default_chunk_length(file, header, width)
    selection = rows_selection(path, header.num_showers, start, stop)
    pieces = split_selection(selection, header.num_showers, chunk)
    lengths = [selection_length(p, header.num_showers) for p in pieces]
    token = tokenize(location_token(path), key, selection, chunk, width)
    return lazy_point_clouds(header, pieces, lengths, width, False, token)


__all__ = [
    "open_target",
    "stored_particles",
    "stored_showers",
]
