"""Point filter (cylinder cut plus per-calorimeter energy threshold).

Also home of the small parameter checks shared by the processing block
functions (:mod:`.clustering`, :mod:`.observables`, :mod:`.shifting`), so that
all of them reject bad input with the same messages.

Block functions take and return plain numpy arrays of one block of showers,
``points`` of shape ``(n, P, F)`` with ``F`` 4 (x, y, z, e) or 5 (+ t).  They
only look at the showers they are given, so they can be mapped over the chunks
of a dask array in any split.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numba import njit

from ..errors import ShowerDataError

__all__ = ["filter_points"]

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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
def _filter_kernel(
    points: np.ndarray,
    radius_sq: np.float32,
    ecal_threshold: np.float32,
    hcal_threshold: np.float32,
    ecal_boundary: np.float32,
    out: np.ndarray,
) -> None:
    """Copy the points passing the cuts to the front of ``out`` (zeroed)."""
    n, p, f = points.shape
    for i in range(n):
        k = 0
        for j in range(p):
            e = points[i, j, E]
            # Padding never survives, so the output padding is all zeros even
            # if the input padding rows carried stray coordinates.
            if e == 0:
                continue
            x = points[i, j, X]
            y = points[i, j, Y]
            # float32 arithmetic and comparisons, as numpy does in 0.7; a NaN
            # coordinate fails the comparison and drops the point.
            if not (x * x + y * y < radius_sq):
                continue
            z = points[i, j, Z]
            if z < ecal_boundary:
                if not (e >= ecal_threshold):
                    continue
            elif z >= ecal_boundary:
                if not (e >= hcal_threshold):
                    continue
            else:  # NaN layer: neither ECAL nor HCAL, 0.7 drops it too
                continue
            for c in range(f):
                out[i, k, c] = points[i, j, c]
            k += 1


def filter_points(
    points: np.ndarray,
    radius: float = math.inf,
    ecal_threshold: float = 0.0,
    hcal_threshold: float = 0.0,
    num_layers_ecal: int = 30,
) -> np.ndarray:
    """Keep the points inside a cylinder and above the energy thresholds.

    A point is kept if ``x**2 + y**2 < radius**2`` and its energy is at least
    the threshold of its calorimeter part (ECAL: ``z < num_layers_ecal - 0.5``,
    HCAL otherwise).  Kept points are moved to the front of each shower in
    their original order; the rest is zero padding.  Padding points (e == 0)
    are never kept, whatever the thresholds.  Same result as showerdata 0.7's
    ``filter_showers`` on valid data: all arithmetic and comparisons are in
    float32, i.e. ``radius**2`` and the thresholds are rounded to float32.

    Parameters
    ----------
    points : ndarray, shape (n, P, 4 or 5)
        Block of showers; converted to float32 if needed.
    radius : float, optional
        Radius of the cylinder around the z axis [mm], ``>= 0``.  Default
        infinity (no cut).
    ecal_threshold, hcal_threshold : float, optional
        Minimum hit energy [GeV] in the ECAL / HCAL.  Default 0.
    num_layers_ecal : int, optional
        Number of ECAL layers.  Default 30 (ILD).

    Returns
    -------
    ndarray, shape (n, P, F), float32
        The filtered block.

    Raises
    ------
    TypeError
        If a parameter is not a number.
    ValueError
        If ``radius`` is negative or NaN, a threshold is NaN or infinite,
        ``num_layers_ecal`` is negative, or ``points`` has the wrong shape.
    """
    radius = real_number("radius", radius, allow_inf=True)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    ecal_threshold = real_number("ecal_threshold", ecal_threshold)
    hcal_threshold = real_number("hcal_threshold", hcal_threshold)
    num_layers_ecal = integer("num_layers_ecal", num_layers_ecal)
    points = as_points_block(points)
    # 0.7 squares the radius in float64 and then compares in float32; a square
    # beyond the float32 (or float64) range is simply infinity.
    radius_sq = radius * radius
    with np.errstate(over="ignore"):
        radius_sq32 = np.float32(radius_sq)
    out = np.zeros(
        points.shape, dtype=np.float32
    )  # calloc: padding pages stay untouched
    _filter_kernel(
        points,
        radius_sq32,
        np.float32(ecal_threshold),
        np.float32(hcal_threshold),
        np.float32(num_layers_ecal - 0.5),
        out,
    )
    return out
