"""Kernels for the padded layout: counting, checking and scattering points."""

from __future__ import annotations

import math

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
def _has_energy_after(points: np.ndarray, i: int, j: int, nonzero: bool) -> bool:
    # Whether a later point of shower i has e != 0 (nonzero) or e == 0.
    for later in range(j + 1, points.shape[1]):
        if (points[i, later, ENERGY] != 0) == nonzero:
            return True
    return False


@njit(nogil=True, cache=True)
def first_invalid_shower(
    points: np.ndarray, num_points: np.ndarray, check_padding: bool = True
) -> tuple:
    """Return ``(position, problem)`` of the first bad shower, or ``(-1, OK)``.

    A shower is valid when its first ``num_points`` points have finite values and
    e > 0, and every later point is padding (e == 0). ``check_padding=False``
    skips the padding, for blocks whose padding we zeroed ourselves.
    """
    n, p, f = points.shape
    for i in range(n):
        k = num_points[i]
        if k < 0 or k > p:
            return i, NUM_POINTS_OUT_OF_RANGE
        for j in range(k):
            e = points[i, j, ENERGY]
            if e < 0:
                return i, NEGATIVE_ENERGY
            for c in range(f):
                if not np.isfinite(points[i, j, c]):
                    return i, NOT_FINITE
            if e == 0:
                if _has_energy_after(points, i, j, True):
                    return i, PADDING_INSIDE
                return i, NUM_POINTS_MISMATCH
        if not check_padding:
            continue
        for j in range(k, p):
            e = points[i, j, ENERGY]
            if e < 0:
                return i, NEGATIVE_ENERGY
            for c in range(f):
                if not np.isfinite(points[i, j, c]):
                    return i, NOT_FINITE
            if e != 0:
                gap = False
                for before in range(k, j):
                    if points[i, before, ENERGY] == 0:
                        gap = True
                if gap:
                    return i, PADDING_INSIDE
                return i, NUM_POINTS_MISMATCH
    return -1, OK


@njit(nogil=True, cache=True)
def copy_real_points(source: np.ndarray, target: np.ndarray, counts: np.ndarray) -> int:
    """Copy the first ``counts[i]`` points of each shower of ``source`` to ``target``.

    The padding of ``target`` is left untouched (a block from ``np.zeros`` then
    never maps the pages its padding would fill), except in showers whose
    padding in ``source`` is not all zero: those are copied whole, so that
    ``target`` equals ``source`` either way. Returns how many were.
    """
    dirty = 0
    p, f = source.shape[1], source.shape[2]
    for i in range(source.shape[0]):
        k = max(0, min(counts[i], p))
        clean = True
        for j in range(k, p):
            for c in range(f):
                value = source[i, j, c]
                # -0.0 too: the copy must be bit for bit
                if value != 0 or math.copysign(1.0, value) < 0:
                    clean = False
        last = k if clean else p
        dirty += not clean
        for j in range(last):
            for c in range(f):
                target[i, j, c] = source[i, j, c]
    return dirty
