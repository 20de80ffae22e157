"""Checks of shower blocks; errors name the file, dataset and shower index."""

from __future__ import annotations

import os

import numpy as np

from .errors import ShowerDataError
from .kernels.layout import (
    NEGATIVE_ENERGY,
    OK,
    PADDING_INSIDE,
    PROBLEMS,
    first_invalid_shower,
)

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
    position, problem = first_invalid_shower(
        points, num_points.astype(np.int64), check_padding
    )
    if problem != OK:
        raise ShowerDataError(
            PROBLEMS[problem],
            path=path,
            dataset=dataset,
            index=offset + position,
            v07_message=V07_MESSAGES.get(problem),
        )


def checked_points_block(
    points: np.ndarray, num_points: np.ndarray, block_info: dict | None = None
) -> np.ndarray:
    """``map_blocks`` body: check a points block against its num_points block."""
    offset = block_info[0]["array-location"][0][0] if block_info else 0
    check_points(points, num_points.reshape(-1), offset=offset, dataset="points")
    return points
