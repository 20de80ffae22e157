"""The one place where padded blocks and ragged (vlen) rows are converted.

A ragged row holds the real points of one shower flattened row-major
(``num_points * F`` floats), as showerdata 0.7 stores them in HDF5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def row_lengths(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Number of floats in each ragged row."""
    return np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))


def pad_rows(
    rows: Sequence[np.ndarray],
    max_points: int,
    num_features: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Padded float32 block ``(len(rows), max_points, num_features)`` from rows.

    Rows longer than ``max_points`` points are truncated. ``out``, if given,
    must be zero-filled (e.g. from ``np.zeros``) and receives the points.
    """
    if out is None:
        out = np.zeros((len(rows), max_points, num_features), dtype=np.float32)
    # A slice copy per row beats concatenating the rows for a numba scatter:
    # no temporary the size of the block, and h5py's rows are already arrays.
    for i, row in enumerate(rows):
        count = min(len(row) // num_features, max_points)
        if count:
            out[i, :count] = row[: count * num_features].reshape(count, num_features)
    return out


def unpad_rows(points: np.ndarray, num_points: np.ndarray) -> np.ndarray:
    """Object array of ragged rows (views where possible) from a padded block."""
    points = np.ascontiguousarray(points, dtype=np.float32)
    rows = np.empty(len(points), dtype=object)
    for i, k in enumerate(num_points.tolist()):
        rows[i] = points[i, :k].reshape(-1)
    return rows


def split_rows(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Object array of the rows ``flat[offsets[i]:offsets[i + 1]]`` (views)."""
    rows = np.empty(len(offsets) - 1, dtype=object)
    bounds = offsets.tolist()
    for i in range(len(rows)):
        rows[i] = flat[bounds[i] : bounds[i + 1]]
    return rows


def zero_padding(points: np.ndarray, num_points: np.ndarray) -> np.ndarray:
    """``points`` with every value past each row's ``num_points`` set to zero.

    Returns ``points`` itself when its padding is already zero, else a copy.
    """
    padding = np.arange(points.shape[1]) >= np.asarray(num_points)[:, None]
    if not points[padding].any():
        return points
    cleaned = points.copy()
    cleaned[padding] = 0
    return cleaned
