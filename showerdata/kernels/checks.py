"""Point columns and the parameter checks shared by all processing kernels.

Every block function rejects bad input with the same messages, and errors about
data name the shower by its global index.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..buffers import zeros
from ..errors import ShowerDataError
from .jit import kernel

X, Y, Z, E = 0, 1, 2, 3  # point columns; column 4, if present, is the time

# float32 constant added to z before truncating it to a layer number, so that
# a layer index stored as e.g. 2.9999998 still lands in layer 3.  It must be a
# float32 (not a Python float) inside kernels: numba would otherwise promote
# the sum to float64, which can round differently from showerdata 0.7.
LAYER_EPS = np.float32(0.1)


# ---------------------------------------------------------------------------
# Parameter checks shared by all processing block functions
# ---------------------------------------------------------------------------


def as_points_block(points: object) -> np.ndarray:
    """Return ``points`` as a C-contiguous float32 array of shape (n, P, 4|5).

    Raises
    ------
    ValueError
        If the array is not three-dimensional with 4 or 5 features.
    """
    array = np.ascontiguousarray(points, dtype=np.float32)
    if array.ndim != 3 or array.shape[2] not in (4, 5):
        raise ValueError(
            "points must have shape (num_showers, max_points, 4 or 5), got "
            f"{array.shape}"
        )
    return array


def output_block(points: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """The zero-filled block an op writes its result for ``points`` into.

    ``out`` (e.g. rows of the array a compute fills) must be zero-filled,
    float32, C-contiguous and shaped like ``points``; None gets a new block,
    whose padding pages are never touched.
    """
    if out is None:
        return zeros(points.shape)
    if (
        out.shape != points.shape
        or out.dtype != np.float32
        or not out.flags.c_contiguous
    ):
        raise ValueError(
            f"out must be a C-contiguous float32 block of shape {points.shape}"
        )
    return out


def real_number(name: str, value: object, *, allow_inf: bool = False) -> float:
    """Return ``value`` as a Python float, rejecting non-numbers and NaN.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (``bool`` counts as not a number).
    ValueError
        If ``value`` is NaN, or infinite while ``allow_inf`` is false.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if math.isnan(result) or (not allow_inf and math.isinf(result)):
        raise ValueError(f"{name} must be a finite number, got {result}")
    return result


def integer(name: str, value: object, *, minimum: int = 0) -> int:
    """Return ``value`` as a Python int ``>= minimum``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` counts as not an integer).
    ValueError
        If ``value < minimum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def shower_indices(shower_index: object, num_showers: int) -> np.ndarray:
    """Global indices of the showers of a block, used only in error messages.

    ``None`` means the block starts at shower 0.

    Raises
    ------
    ValueError
        If the indices are not one integer per shower.
    """
    if shower_index is None:
        return np.arange(num_showers, dtype=np.int64)
    index = np.asarray(shower_index)
    if index.dtype.kind not in "iu" or index.shape != (num_showers,):
        raise ValueError(
            f"shower_index must be an integer array of shape ({num_showers},), "
            f"got {index.dtype} array of shape {index.shape}"
        )
    return index.astype(np.int64, copy=False)


def raise_layer_error(
    position: int, shower_index: np.ndarray, num_layers: int, what: str
) -> None:
    """Raise the error for a point outside the layer range ``0 .. num_layers-1``."""
    raise ShowerDataError(
        f"point with a layer index (int(z + 0.1)) outside 0..{num_layers - 1} of "
        f"{what}",
        index=int(shower_index[position]),
    )


@kernel(nogil=True, cache=True)
def first_shower_outside_layers(
    points: np.ndarray, num_layers: int, check_all: bool
) -> int:
    """Position of the first shower with a point outside the layer range, or -1.

    Only real points (e != 0) are checked unless ``check_all``.  A point's layer
    is ``int(z + 0.1)``; it is valid when ``0 <= z + 0.1 < num_layers`` (NaN is
    invalid).  Comparing the float instead of the truncated int avoids
    undefined float->int conversions of huge values.
    """
    n, p = points.shape[0], points.shape[1]
    upper = np.float32(num_layers)
    for i in range(n):
        for j in range(p):
            if points[i, j, E] == 0 and not check_all:
                continue
            zz = points[i, j, Z] + LAYER_EPS
            if not (zz >= np.float32(0.0) and zz < upper):
                return i
    return -1


# ---------------------------------------------------------------------------
# Filter
# ---------------------------------------------------------------------------
