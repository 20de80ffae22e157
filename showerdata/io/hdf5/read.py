"""Reading rows of the showerdata 0.7 HDF5 layout.

Points are stored as ragged (vlen) rows of ``num_points * F`` floats; a block
of showers is read and padded here, checked against ``num_points``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import h5py
import numpy as np

from ...buffers import zeros
from ...config import hdf5_fast_reader
from ...errors import ShowerDataError, describe_showers
from ...indexing import Selection, selected_rows
from ...kernels.heap import REFERENCE_BYTES
from ...ragged import pad_rows, row_lengths
from ...validation import SMALL_BLOCK_VALUES, check_points
from ..layout import PointsHeader
from .heap_rows import heap_rows, reference_offset


def open_hdf5(path: str | os.PathLike[str], mode: str = "r") -> h5py.File:
    """Open an HDF5 file, turning h5py's errors into ones that name the file.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    OSError
        The file is not a readable HDF5 file (e.g. truncated or another format).
    """
    path = os.fspath(path)
    if mode != "w" and not os.path.exists(path):
        raise FileNotFoundError(f"No such shower file: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"'{path}' is a directory, not an HDF5 shower file.")
    try:
        return h5py.File(path, mode)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise OSError(
            f"'{path}' is not a readable HDF5 file (truncated, corrupt or another "
            f"format): {error}"
        ) from error


def read_selection(file: Any, name: str, selection: Selection) -> np.ndarray:
    """``file[name][selection]`` for a forward slice or any array of rows.

    Raises
    ------
    ShowerDataError
        HDF5 cannot read the rows (see :func:`reading`).
    """
    dataset = file[name]
    with reading(dataset, selection):
        if isinstance(selection, slice):
            return dataset[selection]
        if len(selection) == 0:
            return dataset[0:0]
        unique, inverse = np.unique(selection, return_inverse=True)
        low, high = int(unique[0]), int(unique[-1]) + 1
        # One contiguous read beats h5py's point selection unless the rows are
        # sparse.
        if high - low <= 4 * len(unique):
            return dataset[low:high][selection - low]
        return dataset[unique][inverse]


#: Rows read at once while looking for the ones HDF5 cannot read.
ROWS_PER_PROBE = 128


@contextmanager
def reading(dataset: h5py.Dataset, selection: Selection) -> Iterator[None]:
    """Turn HDF5's failure to read selected rows into an error naming them.

    A damaged global heap, a vlen reference past it or a chunk that does not
    decompress make h5py raise an ``OSError`` that names neither the file, the
    dataset nor the showers ("bad global heap collection signature"). The
    damaged rows are then found by reading the selection again piece by piece.
    """
    try:
        yield
    except OSError as error:
        rows = selected_rows(selection, len(dataset))
        damaged = rows
        if len(rows):
            low, high = int(rows.min()), int(rows.max()) + 1
            found = unreadable_rows(dataset, low, high, ROWS_PER_PROBE)
            damaged = rows[np.isin(rows, found)] if found else rows
        raise ShowerDataError(
            f"{describe_showers(damaged)} cannot be read, the file is damaged "
            f"(HDF5 says: {error})",
            path=dataset.file.filename,
            dataset=dataset.name.lstrip("/"),
            index=int(damaged.min()) if len(damaged) else None,
        ) from error


def unreadable_rows(
    dataset: h5py.Dataset, start: int, stop: int, block: int
) -> list[int]:
    """Rows ``start ... stop - 1`` of a dataset that HDF5 fails to read.

    Reads ``block`` rows at a time, and row by row only in blocks that fail.
    Of a vlen dataset, skips blocks of empty (all-zero) references: they
    cannot be damaged, and reading them, though cheap, adds up for many small
    rows.
    """
    if dataset.id.get_storage_size() == 0:  # no row ever written
        return []
    holds = np.ones(stop - start, dtype=bool)  # rows that may hold a reference
    offset = reference_offset(dataset)
    if offset is not None:
        count = REFERENCE_BYTES * (stop - start)
        first = offset + REFERENCE_BYTES * start
        raw = np.fromfile(dataset.file.filename, np.uint8, count, offset=first)
        holds = raw.reshape(-1, REFERENCE_BYTES).any(axis=1)
    damaged = []
    for first in range(start, stop, block):
        last = min(first + block, stop)
        if not holds[first - start : last - start].any():
            continue
        try:
            dataset[first:last]
        except OSError:
            for row in range(first, last):
                try:
                    dataset[row]
                except OSError:
                    damaged.append(row)
    return damaged


def read_points(
    file: Any,
    header: PointsHeader,
    selection: Selection,
    stored: np.ndarray,
    max_points: int,
    check_energies: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Padded block of the selected vlen rows, checked against ``stored`` counts.

    Errors name the block position of the bad shower (the caller names the
    file's row). ``out``, if given, is a zero-filled block to fill.
    """
    features = header.num_features
    counts = np.minimum(stored, max_points)
    fast = hdf5_fast_reader()
    if fast is None:
        # A small block reads faster through h5py than numba can be set up
        # for the heap kernel in a fresh process.
        fast = len(stored) * max_points * features > SMALL_BLOCK_VALUES
    direct = heap_rows(file, header.rows) if fast else None
    rows = None if direct is not None else read_selection(file, header.rows, selection)
    lengths = direct.lengths(selection) if direct is not None else row_lengths(rows)
    check_row_lengths(header, stored, lengths)
    if direct is not None:
        block = zeros((len(stored), max_points, features)) if out is None else out
        suspect = np.zeros(len(stored), np.uint8)
        if direct.gather(selection, features, block, suspect, True):
            # The kernel screened every row it copied; only suspect ones need more.
            if check_energies and suspect.any():
                check_points(block, counts, check_padding=False)
            return block
        block[...] = 0  # a row the kernel could not verify: let h5py read them all
        rows = read_selection(file, header.rows, selection)
        check_row_lengths(header, stored, row_lengths(rows))
        out = block
    points = pad_rows(rows, max_points, features, out)
    if check_energies:
        check_points(points, counts, check_padding=False)
    return points


def check_row_lengths(
    header: PointsHeader, stored: np.ndarray, lengths: np.ndarray
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
        raise ShowerDataError(problem, dataset=header.rows, index=position)
