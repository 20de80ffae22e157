"""Normalisation of the indices users pass to ``showers[...]`` and files."""

from __future__ import annotations

import numbers
from types import EllipsisType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

IndexLike = int | slice | EllipsisType | tuple | ArrayLike
Selection = slice | np.ndarray


def normalize_index(index: IndexLike, length: int) -> Selection:
    """Turn a user index along the shower axis into a slice or an int64 array.

    Integers select one shower but keep the shower axis (as showerdata 0.7 does);
    negative integers count from the end. Boolean masks become the positions they
    select. Out-of-range positions raise :class:`IndexError`; floats and
    non-integer arrays raise :class:`TypeError`; multi-dimensional indices raise
    :class:`ValueError`.
    """
    if isinstance(index, tuple):
        if len(index) == 0:
            return slice(0, length, 1)
        if len(index) > 1:
            raise ValueError(
                "Multi-dimensional indexing is not supported. (index showers along "
                "the first axis, then slice the fields, e.g. s.points[:, :10])"
            )
        index = index[0]
    if index is Ellipsis:
        return slice(0, length, 1)
    if isinstance(index, slice):
        start, stop, step = index.indices(length)
        if step < 0:  # keep slices forward-only so they compose by plain arithmetic
            return np.arange(start, stop, step, dtype=np.int64)
        return slice(start, max(start, stop), step)
    if isinstance(index, (bool, np.bool_)):
        raise TypeError(f"Cannot index showers with a boolean scalar ({index!r}).")
    if isinstance(index, numbers.Integral):
        position = int(index)
        if not -length <= position < length:
            raise IndexError(
                f"Index out of range. (shower index {position}, {length} showers)"
            )
        position %= length
        return slice(position, position + 1, 1)
    return _array_selection(index, length)


def _array_selection(index: Any, length: int) -> Selection:
    array = np.asarray(index)
    if array.ndim == 0:  # a scalar that is not an int: 1.5, None, "3", ...
        if np.issubdtype(array.dtype, np.integer):  # e.g. np.array(3)
            return normalize_index(int(array), length)
        raise TypeError(
            f"Shower indices must be integers, slices, lists or arrays of integers "
            f"or boolean masks, got {index!r}."
        )
    if array.ndim != 1:
        raise ValueError(
            f"Multi-dimensional indexing is not supported. (the index has shape "
            f"{array.shape}; use a 1-D list or array of shower positions)"
        )
    if isinstance(index, list) and array.dtype != bool and _has_booleans(index):
        # numpy turns [True, 2] into [1, 2]: a mask typo would silently select
        # shower 1; refuse the mix instead.
        raise TypeError(
            f"Shower indices mix booleans and integers ({index!r}); use a boolean "
            "mask of one value per shower or a list of integer positions."
        )
    if array.dtype == bool:
        if len(array) != length:
            raise IndexError(
                f"Boolean mask of length {len(array)} does not match {length} showers."
            )
        return np.flatnonzero(array)
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"Shower indices must be integers, got an array of dtype {array.dtype}."
        )
    # Check before the cast to int64: uint64 values >= 2**63 would wrap to
    # negative positions and silently select showers counted from the end.
    bad = array >= length
    if array.dtype.kind != "u":
        bad |= array < -length
    if bad.any():
        first = int(array[np.argmax(bad)])
        raise IndexError(
            f"Index out of range. (shower index {first}, {length} showers)"
        )
    array = array.astype(np.int64)
    return np.where(array < 0, array + length, array)


def _has_booleans(values: list) -> bool:
    return any(isinstance(v, (bool, np.bool_)) for v in values)


def selection_length(selection: Selection, length: int) -> int:
    """Number of showers a normalised selection picks."""
    if isinstance(selection, slice):
        return len(range(*selection.indices(length)))
    return len(selection)


def selected_rows(selection: Selection, length: int) -> np.ndarray:
    """The rows a normalised selection picks, in its order, as int64."""
    if isinstance(selection, slice):
        return np.arange(*selection.indices(length), dtype=np.int64)
    return np.asarray(selection, dtype=np.int64)


def compose(outer: Selection, inner: Selection, length: int) -> Selection:
    """The selection equal to applying ``outer`` then ``inner``.

    ``length`` is the length of the axis ``outer`` applies to.
    """
    if isinstance(outer, slice) and isinstance(inner, slice):
        positions = range(*outer.indices(length))[inner]
        return slice(positions.start, positions.stop, positions.step)
    if isinstance(outer, slice):
        # By arithmetic: arange(length) would cost 8 bytes per row of the whole
        # file for every selection.
        rows = range(*outer.indices(length))
        return rows.start + np.asarray(inner, dtype=np.int64) * rows.step
    return outer[inner]
