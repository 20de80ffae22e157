"""Reading rows of a showerdata zarr store through zarr-python's indexing.

``showers`` (and a target's ``point_clouds``) is dense and zero padded, so a
block of showers is a plain selection of rows; zarr decodes whatever codecs,
byte order, chunk keys or sharding the store uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import zarr
from zarr.buffer.cpu import NDBuffer

from ...buffers import empty, zeros
from ...errors import ShowerDataError, describe_showers
from ...indexing import Selection, selected_rows
from ...validation import check_points
from ..layout import PointsHeader
from .store import describe, describe_store, shard_length


def read_selection(file: Any, name: str, selection: Selection) -> np.ndarray:
    """``file[name][selection]`` for a forward slice or any array of rows."""
    return read_rows(file[name], selection)


def read_rows(array: zarr.Array, selection: Selection, width: int | None = None) -> Any:
    """``array[selection]`` for a slice or any array of rows, as numpy.

    ``width``, if given, keeps only the first ``width`` entries of axis 1.
    """
    tail = () if width is None else (slice(0, width),)
    with decoding(array, selection):
        if isinstance(selection, slice):
            return np.asarray(array[(selection, *tail)])
        if len(selection) == 0:
            return np.asarray(array[(slice(0, 0), *tail)])
        unique, inverse = np.unique(selection, return_inverse=True)
        rows = array.get_orthogonal_selection((unique, *tail))
        return np.asarray(rows)[inverse]


#: What codecs raise for a chunk they cannot decode: c-blosc's
#: ``RuntimeError``, a checksum's or a short buffer's ``ValueError``, a store's
#: ``OSError``.
DECODE_ERRORS = (RuntimeError, ValueError, OSError, EOFError)


@contextmanager
def decoding(array: zarr.Array, selection: Selection) -> Iterator[None]:
    """Turn a chunk that cannot be decoded into an error naming its rows.

    A damaged or truncated chunk, shard or shard index makes the codecs raise
    their own errors, which say neither the store nor the showers. The
    damaged chunks are then found by reading the selection's chunks one by
    one.
    """
    try:
        yield
    except DECODE_ERRORS as error:
        rows = selected_rows(selection, int(array.shape[0]))
        damaged = undecodable_rows(array, rows)
        damaged = damaged if len(damaged) else rows
        raise ShowerDataError(
            f"{describe_showers(damaged)} cannot be decoded, the store is damaged "
            f"({error})",
            path=describe_store(array),
            dataset=array.path,
            index=int(damaged.min()) if len(damaged) else None,
        ) from error


def undecodable_rows(array: zarr.Array, rows: np.ndarray) -> np.ndarray:
    """Those of ``rows`` whose (inner) chunk cannot be decoded."""
    if array.ndim == 0 or not len(rows):
        return rows[:0]
    length = int(array.chunks[0])
    chunks = np.unique(rows // length)
    failed = []
    for chunk in chunks.tolist():
        first = chunk * length
        try:
            array[first : min(first + length, int(array.shape[0]))]
        except DECODE_ERRORS:
            failed.append(chunk)
    return rows[np.isin(rows // length, failed)]


def read_points(
    file: Any,
    header: PointsHeader,
    selection: Selection,
    stored: np.ndarray,
    max_points: int,
    check_energies: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Padded block of the selected rows, checked against their ``stored`` counts.

    Errors name the block position of the bad shower (the caller names the
    file's row), except a missing shard, which is named with its rows. A
    shard missing from the store reads as fill values (zeros): the check
    then fails, and the error says which shard it is.
    """
    bad = (stored < 0) | (stored > header.max_points)
    if bad.any():
        position = int(np.argmax(bad))
        raise ShowerDataError(
            f"num_points = {stored[position]} is outside 0..{header.max_points}",
            dataset=header.num_points,
            index=position,
        )
    array = file[header.rows]
    width = min(max_points, header.max_points)
    shape = (len(stored), max_points, header.num_features)
    if isinstance(selection, slice) and selection.step in (None, 1):
        # zarr decodes straight into the block: no second copy of the rows.
        whole = width == max_points and out is None
        points = (empty(shape) if whole else zeros(shape)) if out is None else out
        if len(stored):
            into = NDBuffer.from_numpy_array(points[:, :width])
            with decoding(array, selection):
                array.get_basic_selection((selection, slice(0, width)), out=into)
    else:
        rows = read_rows(array, selection, width)
        points = zeros(shape) if out is None else out
        points[:, :width] = rows
    if check_energies:
        counts = np.minimum(stored, max_points)
        try:
            check_points(points, counts, check_padding=True)
        except ShowerDataError as error:
            missing = _missing_shard(array, header, points, counts, selection, error)
            raise missing or error from None
    return points


def _missing_shard(
    array: zarr.Array,
    header: PointsHeader,
    points: np.ndarray,
    counts: np.ndarray,
    selection: Selection,
    error: ShowerDataError,
) -> ShowerDataError | None:
    """The error to give when the bad row's shard reads as nothing but fill.

    A missing shard of points reads as zeros where num_points says there are
    points; a missing chunk of num_points reads as zeros where there are.
    """
    rows = selected_rows(selection, int(array.shape[0]))
    row = int(rows[error.index or 0])
    length = shard_length(array)
    shard = row // length
    first, last = shard * length, min((shard + 1) * length, int(array.shape[0]))
    inside = (rows >= first) & (rows < last)
    has_counts, has_points = counts[inside].any(), points[inside].any()
    if has_counts == has_points:
        return None
    dataset = header.rows if has_counts else header.num_points
    return ShowerDataError(
        f"shard {shard} (showers {first} to {last - 1}) reads as fill values where "
        f"'{header.num_points if has_counts else header.rows}' says there is data: "
        "it is missing from the store",
        path=describe(header.path),
        dataset=dataset,
        index=row,
    )
