"""Lazy reading of the showerdata layout, from HDF5 files and zarr stores.

Every task reads one selection of rows through :func:`cached_reader`, so a
graph carries ``(path, dataset, rows)`` and pickles to any worker. The formats
differ in one place: HDF5 holds points as ragged (vlen) rows, zarr as dense
zero-padded rows (see :func:`read_points_from`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import dask.array as da
import h5py
import numpy as np
from dask.base import tokenize

from ..buffers import zeros
from ..config import showers_per_chunk
from ..errors import MissingDataError, ShowerDataError
from ..graphs import lazy_from_tasks
from ..indexing import Selection, compose, selection_length
from ..ragged import pad_rows, row_lengths
from ..showers import NUM_FEATURES_CHOICES, IncidentParticles, Showers
from ..validation import check_points
from .handles import cached_reader, file_identity, open_hdf5
from .heap_rows import heap_rows
from .layout import PARTICLE_FIELDS, PER_SHOWER, points_dataset_names
from .zarr_chunks import decodes_directly, read_points_into, read_rows
from .zarr_store import check_chunks_present, is_zarr_array, member

PARTICLE_DTYPES = {name: PER_SHOWER[name][0] for name in PARTICLE_FIELDS}
SHOWER_DTYPES = {name: dtype for name, (dtype, _) in PER_SHOWER.items()}


# -- layout checks --------------------------------------------------------------


def require_dataset(file: Any, name: str, path: str) -> Any:
    """Dataset ``name`` of an HDF5 file or zarr group, or :class:`MissingDataError`."""
    try:
        item = member(file, name)
    except KeyError:
        item = None
    if item is None:
        raise MissingDataError(
            f"file '{path}': dataset '{name}' not found (not a showerdata file, or "
            "written without it)."
        )
    if not (isinstance(item, h5py.Dataset) or is_zarr_array(item)):
        raise ShowerDataError(
            "expected a dataset, found a group", path=path, dataset=name
        )
    return item


def require_numeric_dataset(file: Any, name: str, path: str) -> Any:
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


def check_dataset(dataset: Any, path: str, kinds: str, shape: tuple[int, ...]) -> None:
    """Raise :class:`ShowerDataError` unless dtype kind and shape match."""
    if dataset.dtype.kind not in kinds:
        raise ShowerDataError(
            f"has dtype {dataset.dtype}, expected "
            + ("a float" if kinds == "f" else "an integer")
            + " type",
            path=path,
            dataset=dataset.name.lstrip("/"),
        )
    if dataset.shape != shape:
        raise ShowerDataError(
            f"has shape {dataset.shape}, expected {shape}",
            path=path,
            dataset=dataset.name.lstrip("/"),
        )


@dataclass(frozen=True)
class PointsHeader:
    """What the file says about one padded point-cloud dataset."""

    path: str
    rows: str  # vlen rows of flattened points (HDF5) or dense padded points (zarr)
    num_points: str  # its num_points dataset
    num_showers: int
    max_points: int
    num_features: int
    dense: bool = False  # True for zarr


def read_points_header(
    path: str, key: str = "showers", handle: Any = None
) -> PointsHeader:
    """Read and check the shape and datasets of a point-cloud key."""
    rows_name, shape_name, num_points_name = points_dataset_names(key)
    file = cached_reader(path) if handle is None else handle
    shape_ds = require_dataset(file, shape_name, path)
    if shape_ds.dtype.kind not in "iu" or shape_ds.shape != (3,):
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
    rows = require_dataset(file, rows_name, path)
    dense = is_zarr_array(rows)
    if dense:
        check_dataset(rows, path, "f", (num_showers, max_points, num_features))
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
    check_dataset(
        require_dataset(file, num_points_name, path), path, "iu", (num_showers,)
    )
    return PointsHeader(
        path, rows_name, num_points_name, num_showers, max_points, num_features, dense
    )


def _is_vlen_float(dtype: np.dtype) -> bool:
    base = h5py.check_vlen_dtype(dtype)
    return base is not None and np.dtype(base).kind == "f"


def read_particles_length(path: str, with_ids: bool, handle: Any = None) -> int:
    """Check the per-shower datasets and return their common length."""
    file = cached_reader(path) if handle is None else handle
    length = require_dataset(file, "energies", path).shape[0]
    for name in (*PARTICLE_FIELDS, "shower_ids") if with_ids else PARTICLE_FIELDS:
        dtype, tail = PER_SHOWER[name]
        kinds = "f" if dtype.startswith("float") else "iu"
        check_dataset(require_dataset(file, name, path), path, kinds, (length, *tail))
    return length


# -- tasks ------------------------------------------------------------------------


def read_selection(file: Any, name: str, selection: Selection) -> np.ndarray:
    """``file[name][selection]`` for a forward slice or any array of rows."""
    dataset = member(file, name)
    if is_zarr_array(dataset):
        if not isinstance(selection, slice):
            unique, inverse = np.unique(selection, return_inverse=True)
            return read_rows(file, dataset, unique)[inverse]
        return read_rows(file, dataset, selection)
    if isinstance(selection, slice):
        return dataset[selection]
    if len(selection) == 0:
        return dataset[0:0]
    unique, inverse = np.unique(selection, return_inverse=True)
    low, high = int(unique[0]), int(unique[-1]) + 1
    # One contiguous read beats h5py's point selection unless the rows are sparse.
    if high - low <= 4 * len(unique):
        return dataset[low:high][selection - low]
    return dataset[unique][inverse]


def file_row(selection: Selection, position: int) -> int:
    """Row of the file holding the ``position``-th selected shower."""
    if isinstance(selection, slice):
        return selection.start + position * selection.step
    return int(selection[position])


def read_field(path: str, name: str, selection: Selection, dtype: str) -> np.ndarray:
    """Task: rows of a per-shower dataset, cast to ``dtype``."""
    return np.asarray(read_selection(cached_reader(path), name, selection), dtype=dtype)


def read_num_points(
    path: str, name: str, selection: Selection, max_points: int
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
    return read_points_from(
        cached_reader(header.path), header, selection, max_points, check_energies
    )


@dataclass(frozen=True)
class PointReads:
    """A :func:`read_points` task not run yet: where its rows may be read.

    A save to zarr takes these from a lazy array of a file's points and has
    each write task read its rows a piece at a time into the chunk it writes
    (see :func:`.zarr_chunks.write_chunk_in_pieces`), rather than holding
    the chunk's padded block.
    """

    header: PointsHeader
    selection: slice
    max_points: int
    check_energies: bool

    def __len__(self) -> int:
        return self.selection.stop - self.selection.start

    def read(self) -> np.ndarray:
        """The padded block, as the task computes it."""
        return read_points(
            self.header, self.selection, self.max_points, self.check_energies
        )

    def reader(self) -> Callable[[int, int, np.ndarray], None]:
        """``fill(first, stop, out)``: rows ``first:stop`` of the block into ``out``.

        Every value of ``out`` is written, padding zeros included (it may be a
        reused buffer). Rows are checked as :meth:`read` checks them, with
        errors that name the file's rows.
        """
        file = cached_reader(self.header.path)
        stored = read_selection(file, self.header.num_points, self.selection)
        stored = stored.astype(np.int64)
        start = self.selection.start

        def fill(first: int, stop: int, out: np.ndarray) -> None:
            read_points_from(
                file,
                self.header,
                slice(start + first, start + stop, 1),
                self.max_points,
                self.check_energies,
                out,
                stored[first:stop],
                zeroed=False,
            )

        return fill


def point_reads(points: da.Array) -> list[PointReads] | None:
    """The chunks of ``points`` as :class:`PointReads`, if each is a plain read.

    That is an array straight from :func:`lazy_point_clouds` (``load`` of a
    file, with no op, slice or rechunk since); None otherwise.
    """
    graph = points.__dask_graph__()
    layers = getattr(graph, "layers", None)
    if layers is None or list(layers) != [points.name] or points.ndim != 3:
        return None
    reads = []
    for index in range(len(points.chunks[0])):
        task = layers[points.name].get((points.name, index, 0, 0))
        if not (isinstance(task, tuple) and len(task) == 5 and task[0] is read_points):
            return None
        header, selection, max_points, check = task[1:]
        if not isinstance(selection, slice) or selection.step not in (None, 1):
            return None
        reads.append(PointReads(header, selection, max_points, check))
    return reads


def read_points_from(
    file: Any,
    header: PointsHeader,
    selection: Selection,
    max_points: int,
    check_energies: bool,
    out: np.ndarray | None = None,
    stored: np.ndarray | None = None,
    zeroed: bool = True,
) -> np.ndarray:
    """Padded block of the selected rows of an open file (see :func:`read_points`).

    ``out``, if given, is a block that receives the points (e.g. a slice of
    the whole result): zero-filled, or (``zeroed=False``) holding anything,
    every value then being written. ``stored``, if given, is the rows'
    num_points (int64), read already.
    """
    if stored is None:
        stored = read_selection(file, header.num_points, selection).astype(np.int64)
    try:
        if header.dense:
            points, padding_zero, checked = _read_dense(
                file, header, selection, stored, max_points, out, check_energies, zeroed
            )
        else:
            points, checked = _read_ragged(
                file, header, selection, stored, max_points, out, zeroed
            )
            padding_zero = True  # padded by us
        if check_energies and not checked:
            check_points(
                points,
                np.minimum(stored, max_points),
                check_padding=not padding_zero,
            )
    except ShowerDataError as error:
        if error.path is not None:
            raise
        raise ShowerDataError(
            error.problem,
            path=header.path,
            dataset=header.rows,
            index=file_row(selection, error.index or 0),
        ) from None
    return points


def _read_ragged(
    file: Any,
    header: PointsHeader,
    selection: Selection,
    stored: np.ndarray,
    max_points: int,
    out: np.ndarray | None,
    zeroed: bool = True,
) -> tuple[np.ndarray, bool]:
    """The padded block, and whether its points were screened and need no check.

    The kernel that copies the rows from the mapped file screens them too,
    while they are in the cache; only a block with a suspect row is left to
    :func:`~showerdata.validation.check_points`. ``out`` as in
    :func:`read_points_from`.
    """
    direct = heap_rows(file, header.rows)
    rows = None if direct is not None else read_selection(file, header.rows, selection)
    lengths = direct.lengths(selection) if direct is not None else row_lengths(rows)
    _check_row_lengths(header, selection, stored, lengths)
    if direct is not None:
        shape = (len(stored), max_points, header.num_features)
        block = zeros(shape) if out is None else out
        suspect = np.zeros(len(stored), np.uint8)
        cleared = zeroed or out is None
        if direct.gather(selection, header.num_features, block, suspect, cleared):
            return block, not suspect.any()
        block[...] = 0  # a row the kernel could not verify: let h5py read them all
        rows = read_selection(file, header.rows, selection)
        _check_row_lengths(header, selection, stored, row_lengths(rows))
        out = block
    elif out is not None and not zeroed:
        out[...] = 0
    return pad_rows(rows, max_points, header.num_features, out), False


def _check_row_lengths(
    header: PointsHeader, selection: Selection, stored: np.ndarray, lengths: np.ndarray
) -> None:
    """Raise unless every row holds num_points * F floats, with num_points in 0..P."""
    # A row longer than P is refused even when it agrees with num_points.
    beyond = stored > header.max_points
    bad = (lengths != stored * header.num_features) | (stored < 0) | beyond
    if bad.any():
        position = int(np.argmax(bad))
        problem = (
            f"num_points = {stored[position]} is more than P = {header.max_points}"
            if beyond[position]
            else f"row holds {lengths[position]} floats but num_points = "
            f"{stored[position]} with {header.num_features} features per point"
        )
        raise ShowerDataError(
            problem,
            path=header.path,
            dataset=header.rows,
            index=file_row(selection, position),
        )


def _read_dense(
    file: Any,
    header: PointsHeader,
    selection: Selection,
    stored: np.ndarray,
    max_points: int,
    out: np.ndarray | None,
    check: bool,
    zeroed: bool = True,
) -> tuple[np.ndarray, bool, bool]:
    """The padded block, whether its padding is known to be zero, and whether
    it was checked already (with ``check``, where chunks are decoded directly).
    ``out`` as in :func:`read_points_from`.
    """
    if out is not None and not zeroed:
        out[...] = 0  # every path below writes into zeros
    bad = (stored < 0) | (stored > header.max_points)
    if bad.any():
        position = int(np.argmax(bad))
        raise ShowerDataError(
            f"num_points = {stored[position]} is outside 0..{header.max_points}",
            path=header.path,
            dataset=header.num_points,
            index=file_row(selection, position),
        )
    dataset = member(file, header.rows)
    whole_rows = max_points == header.max_points
    forward = isinstance(selection, slice) and selection.step == 1
    if whole_rows and forward and decodes_directly(dataset):
        shape = (len(stored), max_points, header.num_features)
        block = zeros(shape) if out is None else out
        check_chunks_present(file, dataset, selection)
        dirty = read_points_into(dataset, selection.start, block, stored, check)
        if dirty is not None:
            return block, dirty == 0, check
        block[...] = 0  # a chunk it could not read: let zarr read them all
        out = block
    if out is not None and whole_rows and forward:
        return read_rows(file, dataset, selection, out=out), False, False
    points = read_selection(file, header.rows, selection)
    if max_points < header.max_points:
        points = points[:, :max_points]
    elif max_points > header.max_points:
        wider = zeros((len(points), max_points, header.num_features))
        wider[:, : header.max_points] = points
        points = wider
    if out is None:
        return np.ascontiguousarray(points), False, False
    out[...] = points
    return out, False, False


def read_shower_rows(
    file: Any,
    header: PointsHeader,
    selection: Selection,
    max_points: int | None = None,
    chunk_length: int | None = None,
) -> Showers:
    """In-memory :class:`Showers` of the selected rows of an open file.

    The rows are read ``chunk_length`` at a time straight into the result, so
    temporary memory stays at one chunk of ragged rows.
    """
    max_points = header.max_points if max_points is None else max_points
    fields = {
        name: np.asarray(read_selection(file, name, selection), dtype=dtype)
        for name, dtype in SHOWER_DTYPES.items()
    }
    fields["num_points"] = np.minimum(fields["num_points"], max_points)
    length = len(fields["num_points"])
    # Zero pages are mapped lazily: padding that is never written costs nothing.
    points = zeros((length, max_points, header.num_features))
    # zarr decodes the chunks of one read concurrently: read them all at once.
    step = max(length, 1) if header.dense else chunk_length or max(length, 1)
    for first, piece in zip(
        range(0, length, step),
        split_selection(selection, header.num_showers, step),
        strict=False,
    ):
        block = points[first : first + step]
        read_points_from(file, header, piece, max_points, True, out=block)
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

    path: str
    kind: type  # Showers or IncidentParticles
    num_rows: int
    selection: Selection
    chunk_length: int
    header: PointsHeader | None = None  # for showers
    max_points: int = 0

    def select(self, selection: Selection) -> Any:
        rows = compose(self.selection, selection, self.num_rows)
        return replace(self, selection=rows).to_bundle()

    def read(self) -> Any:
        file = cached_reader(self.path)
        if self.kind is IncidentParticles:
            return IncidentParticles._from_fields(
                {
                    name: np.asarray(read_selection(file, name, self.selection), dtype)
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
        token = tokenize(
            self.path, file_identity(self.path), self.selection, self.chunk_length
        )

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


def rows_selection(path: str, num_rows: int, start: int, stop: int | None) -> slice:
    """The slice of rows for ``start``/``stop`` arguments, checked against the file.

    Negative values count from the end, as in Python; positions past the end
    raise :class:`IndexError` rather than silently returning fewer showers.
    """
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)):
        raise TypeError(f"start must be an integer, got {start!r}.")
    if stop is not None and (
        isinstance(stop, bool) or not isinstance(stop, (int, np.integer))
    ):
        raise TypeError(f"stop must be an integer or None, got {stop!r}.")
    first = start + num_rows if start < 0 else start
    last = num_rows if stop is None else (stop + num_rows if stop < 0 else stop)
    if not 0 <= first <= num_rows or not 0 <= last <= num_rows:
        raise IndexError(
            f"file '{path}': start={start}, stop={stop} is out of range for "
            f"{num_rows} showers."
        )
    return slice(first, max(first, last), 1)


def default_chunk_length(header: PointsHeader, max_points: int) -> int:
    """Showers per dask chunk: a zarr store's own chunks, else ~chunk-bytes."""
    if header.dense:
        return int(member(cached_reader(header.path), header.rows).chunks[0])
    return showers_per_chunk(max_points, header.num_features)


def check_per_shower_datasets(header: PointsHeader, handle: Any = None) -> None:
    """Check dtypes and shapes of the per-shower datasets against the showers'."""
    length = read_particles_length(header.path, with_ids=True, handle=handle)
    if length != header.num_showers:
        raise ShowerDataError(
            f"has {length} rows but 'shape' says {header.num_showers} showers",
            path=header.path,
            dataset="energies",
        )


def open_showers(
    path: str,
    start: int = 0,
    stop: int | None = None,
    max_points: int | None = -1,
    chunks: int | None = None,
    key: str = "showers",
) -> Showers:
    """Lazy :class:`Showers` over rows ``start:stop`` of an HDF5 file."""
    header = read_points_header(path, key)
    check_per_shower_datasets(header)
    points_axis = (
        header.max_points if max_points is None or max_points < 0 else max_points
    )
    chunk = chunks or default_chunk_length(header, points_axis)
    stored = StoredRows(
        path=path,
        kind=Showers,
        num_rows=header.num_showers,
        selection=rows_selection(path, header.num_showers, start, stop),
        chunk_length=chunk,
        header=header,
        max_points=points_axis,
    )
    return stored.to_bundle()


def _particle_chunk_length(path: str) -> int:
    energies = cached_reader(path)["energies"]
    return int(energies.chunks[0]) if is_zarr_array(energies) else 2**20


def open_particles(
    path: str, start: int = 0, stop: int | None = None, chunks: int | None = None
) -> IncidentParticles:
    """Lazy :class:`IncidentParticles` over rows ``start:stop`` of an HDF5 file."""
    length = read_particles_length(path, with_ids=False)
    stored = StoredRows(
        path=path,
        kind=IncidentParticles,
        num_rows=length,
        selection=rows_selection(path, length, start, stop),
        chunk_length=chunks or _particle_chunk_length(path),
    )
    return stored.to_bundle()


def open_target(
    path: str,
    key: str,
    start: int = 0,
    stop: int | None = None,
    max_points: int | None = -1,
    chunks: int | None = None,
) -> tuple[da.Array, da.Array]:
    """Lazy ``(points, num_points)`` of a target key; no energy checks apply."""
    header = read_points_header(path, key)
    points_axis = (
        header.max_points if max_points is None or max_points < 0 else max_points
    )
    chunk = chunks or default_chunk_length(header, points_axis)
    selection = rows_selection(path, header.num_showers, start, stop)
    pieces = split_selection(selection, header.num_showers, chunk)
    lengths = [selection_length(p, header.num_showers) for p in pieces]
    token = tokenize(path, file_identity(path), key, selection, chunk, points_axis)
    points, num_points = lazy_point_clouds(
        header, pieces, lengths, points_axis, False, token
    )
    return points, num_points


__all__ = ["open_hdf5", "open_particles", "open_showers", "open_target"]
