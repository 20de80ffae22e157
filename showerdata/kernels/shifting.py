"""Layer-wise shift that undoes (or redoes) the displacement by the incident angle.

A particle entering the calorimeter with direction ``(dx, dy, dz)`` deposits
energy in layer ``l`` displaced by ``(dx / dz, dy / dz) * depth(l)`` from its
entry point, where ``depth(l) = layer_bottom_pos[l] - calo_surface``.  The
forward shift subtracts that displacement, so inclined showers look like
perpendicular ones; the inverse shift adds it back.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShowerDataError
from .checks import (
    LAYER_EPS,
    E,
    X,
    Y,
    Z,
    as_points_block,
    first_shower_outside_layers,
    output_block,
    raise_layer_error,
    real_number,
    shower_indices,
)
from .jit import kernel

__all__ = ["shift_points"]


@kernel(nogil=True, cache=True)
def _shift_kernel(
    points: np.ndarray,
    slopes: np.ndarray,
    depth: np.ndarray,
    box: np.float32,
    inverse: bool,
    out: np.ndarray,
) -> None:
    """Shift every real point of ``points`` into the zeroed ``out``.

    All arithmetic is float32 in 0.7's order: ``x -/+ (dx / dz) * depth``.
    Forward shifts keep only points strictly inside the box ``|x|, |y| < box``
    and move them to the front in their original order.
    """
    n, p, f = points.shape
    for i in range(n):
        sx = slopes[i, 0]
        sy = slopes[i, 1]
        k = 0
        for j in range(p):
            # Padding stays zero padding (0.7 shifted it like a real point,
            # leaving non-zero x and y with e == 0 behind the real points).
            if points[i, j, E] == 0:
                continue
            d = depth[np.int64(points[i, j, Z] + LAYER_EPS)]
            if inverse:
                x = points[i, j, X] + sx * d
                y = points[i, j, Y] + sy * d
            else:
                x = points[i, j, X] - sx * d
                y = points[i, j, Y] - sy * d
                if not (x > -box and x < box and y > -box and y < box):
                    continue
            out[i, k, X] = x
            out[i, k, Y] = y
            for c in range(Z, f):
                out[i, k, c] = points[i, j, c]
            k += 1


def shift_points(
    points: np.ndarray,
    directions: np.ndarray,
    layer_bottom_pos: np.ndarray,
    calo_surface: float,
    *,
    inverse: bool = False,
    shower_index: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Shift each layer of each shower along the incident direction.

    Forward (``inverse=False``): ``x -= dx / dz * depth``, same for y, with
    ``depth = layer_bottom_pos[layer] - calo_surface`` and ``layer =
    int(z + 0.1)``.  Points that end up outside the octant face of the barrel,
    i.e. not strictly inside ``|x|, |y| < tan(pi / 8) * calo_surface``, are
    dropped and the remaining ones moved to the front.  Inverse: ``x += ...``
    with nothing dropped.  Real points match showerdata 0.7's
    ``shift_layers`` bit for bit (float32 arithmetic); padding stays zero.

    Parameters
    ----------
    points : ndarray, shape (n, P, 4 or 5)
        Block of showers; converted to float32 if needed.
    directions : array_like, shape (n, 3)
        Incident direction of each shower (need not be normalised); converted
        to float32.
    layer_bottom_pos : array_like, shape (num_layers,)
        Position of each layer [mm], e.g. ``geometry.layer_bottom_pos``.
    calo_surface : float
        Position of the calorimeter surface [mm], e.g.
        ``geometry.calo_surface``.
    inverse : bool, optional
        Apply the inverse shift.  Default False.
    shower_index : array_like of int, shape (n,), optional
        Global shower indices for error messages; default ``0 .. n-1``.
    out : ndarray, optional
        Zero-filled float32 block shaped like ``points`` to write the result
        into (see :func:`~showerdata.kernels.checks.output_block`).

    Returns
    -------
    ndarray, shape (n, P, F), float32
        The shifted block.

    Raises
    ------
    TypeError
        If ``calo_surface`` is not a number.
    ValueError
        If an argument has the wrong shape or non-finite values.
    ShowerDataError
        (a ``ValueError``) naming the shower index, if a direction has z == 0
        or is not finite, or a real point's layer is outside
        ``layer_bottom_pos``.
    """
    calo_surface = real_number("calo_surface", calo_surface)
    positions = np.asarray(layer_bottom_pos, dtype=np.float32)
    if positions.ndim != 1 or not np.all(np.isfinite(positions)):
        raise ValueError("layer_bottom_pos must be a 1-D array of finite numbers")
    points = as_points_block(points)
    n = points.shape[0]
    directions = np.asarray(directions, dtype=np.float32)
    if directions.shape != (n, 3):
        raise ValueError(f"directions must have shape ({n}, 3), got {directions.shape}")
    index = shower_indices(shower_index, n)
    bad = np.flatnonzero(
        (directions[:, 2] == 0) | ~np.all(np.isfinite(directions), axis=1)
    )
    if bad.size:
        raise ShowerDataError(
            f"incident direction {directions[bad[0]].tolist()} has z == 0 or is "
            "not finite; the shower cannot be shifted",
            index=int(index[bad[0]]),
        )
    bad_layer = first_shower_outside_layers(points, positions.shape[0], False)
    if bad_layer >= 0:
        raise_layer_error(bad_layer, index, positions.shape[0], "layer_bottom_pos")

    # float32 like 0.7: the depth table is float32 minus the surface rounded to
    # float32, the slopes are float32 quotients.
    depth = positions - np.float32(calo_surface)
    slopes = np.ascontiguousarray(
        np.stack([directions[:, 0], directions[:, 1]], axis=1) / directions[:, 2:3]
    )
    box = np.float32(math.tan(math.pi / 8) * calo_surface)
    out = output_block(points, out)
    _shift_kernel(points, slopes, depth, box, bool(inverse), out)
    return out
