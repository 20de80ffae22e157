"""Kernels for the padded layout: counting, checking and scattering points."""

from __future__ import annotations

import numpy as np
from numba import njit

ENERGY = 3  # column of the point energy; e == 0 marks padding

# Problems found by `first_invalid_shower`, in the order they are checked.
OK = 0
NUM_POINTS_OUT_OF_RANGE = 1
NEGATIVE_ENERGY = 2
NOT_FINITE = 3
PADDING_INSIDE = 4
NUM_POINTS_MISMATCH = 5

PROBLEMS = {
    NUM_POINTS_OUT_OF_RANGE: "num_points is negative or larger than the point axis",
    NEGATIVE_ENERGY: "negative point energy",
    NOT_FINITE: "point coordinates or energies are NaN or infinite",
    PADDING_INSIDE: "padding (a point with e == 0) in the middle of the shower",
    NUM_POINTS_MISMATCH: "num_points disagrees with the number of points with e > 0",
}


@njit(nogil=True, cache=True)
def count_real_points(points: np.ndarray) -> np.ndarray:
    """Number of points with non-zero energy in each shower of a padded block."""
    n, p = points.shape[0], points.shape[1]
    counts = np.zeros(n, dtype=np.int32)
    for i in range(n):
        c = 0
        for j in range(p):
            if points[i, j, ENERGY] != 0:
                c += 1
        counts[i] = c
    return counts


@njit(nogil=True, cache=True)
def first_invalid_shower(points: np.ndarray, num_points: np.ndarray) -> tuple:
    """Return ``(position, problem)`` of the first bad shower, or ``(-1, OK)``.

    A shower is valid when its first ``num_points`` points have finite values and
    e > 0, and every later point has e == 0.
    """
    n, p, f = points.shape
    for i in range(n):
        k = num_points[i]
        if k < 0 or k > p:
            return i, NUM_POINTS_OUT_OF_RANGE
        seen_padding = False
        real = 0
        for j in range(p):
            e = points[i, j, ENERGY]
            if e < 0:
                return i, NEGATIVE_ENERGY
            for c in range(f):
                if not np.isfinite(points[i, j, c]):
                    return i, NOT_FINITE
            if e == 0:
                seen_padding = True
            elif seen_padding:
                return i, PADDING_INSIDE
            else:
                real += 1
        if real != k:
            return i, NUM_POINTS_MISMATCH
    return -1, OK


@njit(nogil=True, cache=True)
def scatter_rows(flat: np.ndarray, offsets: np.ndarray, out: np.ndarray) -> None:
    """Copy flattened rows into a zero-initialised padded block.

    Row ``i`` is ``flat[offsets[i]:offsets[i + 1]]`` holding whole points of
    ``out.shape[2]`` features; points beyond ``out.shape[1]`` are dropped.
    """
    n, p, f = out.shape
    for i in range(n):
        start = offsets[i]
        num = min((offsets[i + 1] - start) // f, p)
        for j in range(num):
            for c in range(f):
                out[i, j, c] = flat[start + j * f + c]
