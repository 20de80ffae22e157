"""Checks of shower blocks; errors name the file, dataset and shower index."""

from __future__ import annotations

import os

import numpy as np

from .errors import ShowerDataError
from .kernels.layout import (
    ENERGY,
    NEGATIVE_ENERGY,
    NOT_FINITE,
    NUM_POINTS_MISMATCH,
    NUM_POINTS_OUT_OF_RANGE,
    OK,
    PADDING_INSIDE,
    PROBLEMS,
    first_invalid_shower,
)

#: Blocks of at most this many values are checked with numpy: setting numba up
#: in a process costs more than numpy spends on such a block, and a session
#: that only looks at a few showers should not pay for it.
SMALL_BLOCK_VALUES = 2**21

#: What showerdata 0.7 said for the problems it checked.
V07_MESSAGES = {
    NEGATIVE_ENERGY: "Point energies must be non-negative.",
    PADDING_INSIDE: "Padding should be in the end of the shower points.",
}


def check_points(
    points: np.ndarray,
    num_points: np.ndarray,
    *,
    offset: int = 0,
    path: str | os.PathLike[str] | None = None,
    dataset: str = "showers",
    check_padding: bool = True,
) -> None:
    """Raise :class:`ShowerDataError` for the first invalid shower of a block.

    ``offset`` is the global index of the block's first shower, so the error
    names the shower as the user counts it. ``check_padding=False`` trusts
    padding we zeroed ourselves (blocks padded from ragged rows).
    """
    counts = num_points.astype(np.int64)
    if points.size <= SMALL_BLOCK_VALUES:
        position, problem = first_invalid_shower_numpy(points, counts, check_padding)
    else:
        position, problem = first_invalid_shower(points, counts, check_padding)
    if problem != OK:
        raise ShowerDataError(
            PROBLEMS[problem],
            path=path,
            dataset=dataset,
            index=offset + position,
            v07_message=V07_MESSAGES.get(problem),
        )


def first_invalid_shower_numpy(
    points: np.ndarray, num_points: np.ndarray, check_padding: bool = True
) -> tuple[int, int]:
    """:func:`~showerdata.kernels.layout.first_invalid_shower`, in numpy.

    Same result: the first shower with a problem, and the first problem of
    that shower in the kernel's order (the count, then point by point: a
    negative energy, a value that is not finite, then a real point with e == 0
    or a padding point with e != 0).
    """
    n, p = points.shape[0], points.shape[1]
    if n == 0:
        return -1, OK
    energy = points[:, :, ENERGY]
    counts = num_points.reshape(-1)
    out_of_range = (counts < 0) | (counts > p)
    real = np.arange(p) < counts[:, None]
    if not check_padding:
        real_or_checked = real
    else:
        real_or_checked = np.ones_like(real)
    negative = energy < 0
    not_finite = ~np.isfinite(points).all(axis=2)
    misplaced = np.where(real, energy == 0, energy != 0)
    bad = (negative | not_finite | misplaced) & real_or_checked
    bad_shower = out_of_range | bad.any(axis=1)
    if not bad_shower.any():
        return -1, OK
    i = int(np.argmax(bad_shower))
    if out_of_range[i]:
        return i, NUM_POINTS_OUT_OF_RANGE
    j = int(np.argmax(bad[i]))
    if negative[i, j]:
        return i, NEGATIVE_ENERGY
    if not_finite[i, j]:
        return i, NOT_FINITE
    if real[i, j]:  # a real point with e == 0: padding inside if energy follows
        inside = (energy[i, j + 1 :] != 0).any()
    else:  # a padding point with e != 0: padding inside if a zero came before
        inside = (energy[i, counts[i] : j] == 0).any()
    return i, PADDING_INSIDE if inside else NUM_POINTS_MISMATCH


def checked_points_block(
    points: np.ndarray, num_points: np.ndarray, block_info: dict | None = None
) -> np.ndarray:
    """``map_blocks`` body: check a points block against its num_points block."""
    offset = block_info[0]["array-location"][0][0] if block_info else 0
    check_points(points, num_points.reshape(-1), offset=offset, dataset="points")
    return points
