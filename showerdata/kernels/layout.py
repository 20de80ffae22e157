"""Kernels for the padded layout: counting, checking and scattering points."""

from __future__ import annotations

import numpy as np

from .jit import kernel

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


@kernel(nogil=True, cache=True)
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


@kernel(nogil=True, cache=True)
def count_leading_points(points: np.ndarray) -> np.ndarray:
    """Number of points before the first padding point (e == 0) of each shower.

    Equals :func:`count_real_points` for valid padded points (as every op
    returns), but reads a shower only up to its first padding point: pages
    that only padding fills are never read, and reading a page of a fresh
    map that was never written costs a page fault too.
    """
    n, p = points.shape[0], points.shape[1]
    counts = np.zeros(n, dtype=np.int32)
    for i in range(n):
        c = 0
        while c < p and points[i, c, ENERGY] != 0:
            c += 1
        counts[i] = c
    return counts


@kernel(nogil=True, cache=True)
def _has_energy_after(points: np.ndarray, i: int, j: int, nonzero: bool) -> bool:
    # Whether a later point of shower i has e != 0 (nonzero) or e == 0.
    for later in range(j + 1, points.shape[1]):
        if (points[i, later, ENERGY] != 0) == nonzero:
            return True
    return False


@kernel(nogil=True, cache=True)
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


@kernel(nogil=True, cache=True)
def has_suspect_value(
    values: np.ndarray, begin: int, end: int, first_energy: int, features: int
) -> bool:
    """Whether ``values[begin:end]`` (whole points) hold a value that is not
    finite, or an energy (``first_energy``, then every ``features``) <= 0.

    Those are the only real points `first_invalid_shower` rejects. Run over
    values just copied, still in the cache, as a pass of its own so that the
    copy stays a plain vectorised one: ``v - v`` is NaN for NaN and infinities.
    The loops index slices from 0: indices that numba cannot prove
    non-negative keep a wraparound check that stops the loop vectorising.
    """
    run = values[begin:end]
    suspect = False
    for t in range(len(run)):
        value = run[t]
        suspect |= value - value != 0
    energies = values[first_energy:end:features]
    for t in range(len(energies)):
        suspect |= energies[t] <= 0
    return suspect


#: Flags `scatter_real_values` sets per row.
PADDING_NOT_ZERO = 1
SUSPECT_POINT = 2  # a real point with e <= 0 or a value that is not finite


@kernel(nogil=True, cache=True)
def scatter_real_values(
    values: np.ndarray,
    bits: np.ndarray,
    offset: int,
    rows: np.ndarray,
    counts: np.ndarray,
    features: int,
    flags: np.ndarray,
) -> None:
    """Copy a run of stored values into the rows of a padded block they belong to.

    ``values`` are items ``offset, offset + 1, ...`` of ``rows`` (a block of
    showers, one row of ``P * features`` items each) laid end to end, and
    ``bits`` the same memory as unsigned integers of their width; items
    outside ``rows`` are skipped. Only the first ``counts[i]`` points of row
    ``i`` are written, so pages of ``rows`` that only padding would fill are
    never touched, except padding values that are not zero (-0.0 too: the
    copy is bit for bit): those are written and flagged PADDING_NOT_ZERO, so
    that ``rows`` ends up equal to the stored rows either way. Rows with a
    point `first_invalid_shower` could reject are flagged SUSPECT_POINT, so
    that only those need checking.
    """
    width = rows.shape[1]
    k = max(0, -offset)
    position = offset + k
    while k < len(values) and position < rows.size:
        i = position // width
        j = position - i * width
        take = min(len(values) - k, width - j)
        real = max(0, min(counts[i], width // features)) * features
        stop = min(max(real - j, 0), take)
        rows[i, j : j + stop] = values[k : k + stop]
        if has_suspect_value(
            values, k, k + stop, k + (ENERGY - j) % features, features
        ):
            flags[i] |= SUSPECT_POINT
        if any_bit_set(bits, k + stop, k + take):
            for t in range(stop, take):
                if bits[k + t] != 0:
                    rows[i, j + t] = values[k + t]
            flags[i] |= PADDING_NOT_ZERO
        k += take
        position += take


@kernel(nogil=True, cache=True)
def any_bit_set(bits: np.ndarray, begin: int, end: int) -> bool:
    """Whether ``bits[begin:end]`` has a non-zero item.

    One OR over the run rather than a test per value: padding is almost
    always all zero bits. Indexed from 0 in a slice so that it vectorises
    (see `has_suspect_value`).
    """
    if end <= begin:
        return False
    run = bits[begin:end]
    union = run[0]
    for t in range(1, len(run)):
        union |= run[t]
    return union != 0
