"""Point filter (cylinder cut plus per-calorimeter energy threshold).

Block functions take and return plain numpy arrays of one block of showers,
``points`` of shape ``(n, P, F)`` with ``F`` 4 (x, y, z, e) or 5 (+ t).  They
only look at the showers they are given, so they can be mapped over the chunks
of a dask array in any split.
"""

from __future__ import annotations

import math

import numpy as np

from .checks import E, X, Y, Z, as_points_block, integer, output_block, real_number
from .jit import kernel

__all__ = ["checked_cuts", "filter_points"]


@kernel(nogil=True, cache=True)
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


def checked_cuts(
    radius: float, ecal_threshold: float, hcal_threshold: float, num_layers_ecal: int
) -> tuple[float, float, float, int]:
    """The cuts of :func:`filter_points` as numbers, or the error it would raise.

    Raises
    ------
    TypeError
        If a parameter is not a number.
    ValueError
        If ``radius`` is negative or NaN, a threshold is NaN or infinite, or
        ``num_layers_ecal`` is negative.
    """
    radius = real_number("radius", radius, allow_inf=True)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    return (
        radius,
        real_number("ecal_threshold", ecal_threshold),
        real_number("hcal_threshold", hcal_threshold),
        integer("num_layers_ecal", num_layers_ecal),
    )


def filter_points(
    points: np.ndarray,
    radius: float = math.inf,
    ecal_threshold: float = 0.0,
    hcal_threshold: float = 0.0,
    num_layers_ecal: int = 30,
    out: np.ndarray | None = None,
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
    out : ndarray, optional
        Zero-filled float32 block shaped like ``points`` to write the result
        into (see :func:`~showerdata.kernels.checks.output_block`).

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
    radius, ecal_threshold, hcal_threshold, num_layers_ecal = checked_cuts(
        radius, ecal_threshold, hcal_threshold, num_layers_ecal
    )
    points = as_points_block(points)
    # 0.7 squares the radius in float64 and then compares in float32; a square
    # beyond the float32 (or float64) range is simply infinity.
    radius_sq = radius * radius
    with np.errstate(over="ignore"):
        radius_sq32 = np.float32(radius_sq)
    out = output_block(points, out)
    _filter_kernel(
        points,
        radius_sq32,
        np.float32(ecal_threshold),
        np.float32(hcal_threshold),
        np.float32(num_layers_ecal - 0.5),
        out,
    )
    return out
