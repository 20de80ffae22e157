"""Clustering of hits into the readout cells of a (shifted) regular grid.

Each calorimeter part has a square grid of cell size ``c`` in x and y that can
be displaced by a per-shower shift ``s``: a point at ``x`` falls in cell
``floor((x + s) / c)``.  All real points of a shower in the same
(part, layer, x cell, y cell) are merged into one point at the cell centre
with the summed energy and the earliest time.

:func:`grid_shifts` draws the shifts from a counter-based hash of
``(seed, global shower index)``, so random shifts do not depend on how a data
set is chunked or in which order the chunks are processed.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..detector import DetectorGeometry
from ..errors import ShowerDataError
from .checks import (
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

__all__ = ["cluster_points", "grid_shifts"]

# Cell indices must stay well inside the int64 range and, like 0.7 whose cell
# indices are int32, inside +-2**31.  Larger or non-finite values mean a point
# far outside any calorimeter (or a zero cell size) and are reported.
_MAX_CELL_INDEX = np.float32(2.0**31)
_COORDINATE_PROBLEM = 1


# ---------------------------------------------------------------------------
# Counter-based grid shifts
# ---------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64 increment (2**64 / phi)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SALT = np.uint64(0xD1B54A32D192ED03)  # separates the seed from the index stream


@kernel(nogil=True, cache=True)
def _mix64(x: np.uint64) -> np.uint64:
    """splitmix64 output function: a bijective avalanche of 64 bits."""
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


@kernel(nogil=True, cache=True)
def _uniform_kernel(seed: np.uint64, index: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[i, k]`` (k < 4) with a uniform float64 in [0, 1) per counter.

    The value is a pure function of ``(seed, index[i], k)``: the seed is mixed
    into a key, the index and then the component are added splitmix-style.
    """
    key = _mix64(seed * _SALT + _GOLDEN)
    for i in range(index.shape[0]):
        stream = _mix64(key + np.uint64(index[i]) * _GOLDEN)
        for k in range(out.shape[1]):
            bits = _mix64(stream + np.uint64(k + 1) * _GOLDEN)
            # top 53 bits -> exactly representable double in [0, 1)
            out[i, k] = np.float64(bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def _seed_to_uint64(seed: object) -> np.uint64:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    # Any integer is accepted; seeds that agree modulo 2**64 are the same seed.
    return np.uint64(int(seed) % (1 << 64))


def _uniform_in_cell(u: np.ndarray, cell_size: float) -> np.ndarray:
    """Map uniforms in [0, 1) to float32 shifts in [-cell/2, cell/2)."""
    half = cell_size / 2.0
    shift = ((u - 0.5) * cell_size).astype(np.float32)
    if cell_size == 0:
        return shift
    # Rounding to float32 may land exactly on (or just outside) a bound; pull
    # such values back onto the nearest float32 inside the half-open interval.
    upper = np.float32(half)
    if float(upper) >= half:
        upper = np.nextafter(upper, np.float32(-np.inf))
    lower = np.float32(-half)
    if float(lower) < -half:
        lower = np.nextafter(lower, np.float32(np.inf))
    return np.clip(shift, lower, upper)


def grid_shifts(
    seed: int,
    shower_index: np.ndarray,
    ecal_cell_size: float,
    hcal_cell_size: float,
) -> np.ndarray:
    """Deterministic random grid shifts for the given showers.

    The shift of shower ``i`` depends only on ``seed`` and the global shower
    index ``shower_index[i]``, never on which other showers are in the call,
    so any split of an index range yields the same shifts.

    Parameters
    ----------
    seed : int
        Random seed; any Python or numpy integer (taken modulo ``2**64``).
    shower_index : array_like of int, shape (n,)
        Global indices of the showers.
    ecal_cell_size, hcal_cell_size : float
        Cell sizes [mm] (``>= 0``); a cell size of 0 gives zero shifts.

    Returns
    -------
    ndarray, shape (n, 2, 2), float32
        ``shifts[i, 0]`` is the (x, y) shift of the ECAL grid, ``shifts[i, 1]``
        that of the HCAL grid, each uniform in ``[-cell/2, cell/2)``.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer or a cell size is not a number.
    ValueError
        If a cell size is negative or not finite, or ``shower_index`` is not
        a one-dimensional integer array.
    """
    seed_u64 = _seed_to_uint64(seed)
    cells = []
    for name, value in (
        ("ecal_cell_size", ecal_cell_size),
        ("hcal_cell_size", hcal_cell_size),
    ):
        value = real_number(name, value)
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        cells.append(value)
    index = np.asarray(shower_index)
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise ValueError(
            "shower_index must be a one-dimensional integer array, got "
            f"{index.dtype} array of shape {index.shape}"
        )
    # Reinterpret negative indices as their two's complement: still a unique
    # counter per index, and the kernel only ever sees one integer type.
    index = np.ascontiguousarray(index.astype(np.int64, copy=False)).view(np.uint64)
    uniforms = np.empty((index.shape[0], 4), dtype=np.float64)
    _uniform_kernel(seed_u64, index, uniforms)
    shifts = np.empty((index.shape[0], 2, 2), dtype=np.float32)
    shifts[:, 0, :] = _uniform_in_cell(uniforms[:, 0:2], cells[0])
    shifts[:, 1, :] = _uniform_in_cell(uniforms[:, 2:4], cells[1])
    return shifts


# ---------------------------------------------------------------------------
# Clustering kernel
# ---------------------------------------------------------------------------


@kernel(nogil=True, cache=True)
def _radix_sort(
    keys: np.ndarray,
    order: np.ndarray,
    m: int,
    bits: int,
    key_tmp: np.ndarray,
    order_tmp: np.ndarray,
    count: np.ndarray,
) -> None:
    """Stable LSD radix sort of ``keys[:m]`` (in ``[0, 2**bits)``) with ``order``.

    Sorts both arrays in place by key, one byte per pass.  Comparison sorts
    of a shower's cell keys are dominated by branch mispredictions, which
    this avoids; being stable, it keeps points of the same cell in their
    original order.
    """
    shift = 0
    while shift < bits:
        count[:] = 0
        for j in range(m):
            count[((keys[j] >> shift) & 255) + 1] += 1
        # A byte that is equal for all keys would not move anything.
        if count[((keys[0] >> shift) & 255) + 1] != m:
            for d in range(256):
                count[d + 1] += count[d]
            for j in range(m):
                d = (keys[j] >> shift) & 255
                t = count[d]
                key_tmp[t] = keys[j]
                order_tmp[t] = order[j]
                count[d] = t + 1
            keys[:m] = key_tmp[:m]
            order[:m] = order_tmp[:m]
        shift += 8


@kernel(nogil=True, cache=True)
def _stable_order(
    m: int,
    part: np.ndarray,
    layer: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    scratch: np.ndarray,
) -> np.ndarray:
    """Stable order of the first ``m`` points by (part, layer, x cell, y cell).

    Stability matters: energies of a cell are then summed in the original
    point order, which reproduces 0.7's float32 sums bit for bit.
    ``scratch`` is a reusable int64 buffer of shape (4, >= max(m, 257)); on
    return ``scratch[0, :m]`` holds, in sorted order, numbers that are equal
    exactly for points of the same cell.
    """
    lz, hz = layer[0], layer[0]
    lx, hx = cx[0], cx[0]
    ly, hy = cy[0], cy[0]
    for j in range(1, m):
        lz = min(lz, layer[j])
        hz = max(hz, layer[j])
        lx = min(lx, cx[j])
        hx = max(hx, cx[j])
        ly = min(ly, cy[j])
        hy = max(hy, cy[j])
    nz, nx, ny = hz - lz + 1, hx - lx + 1, hy - ly + 1
    order = np.empty(m, dtype=np.int64)
    # Usual case: one int64 key per point, radix sorted.  The float product
    # avoids an overflowing integer test.
    if 2.0 * nz * nx * ny < 4.0e18:
        keys = scratch[0]
        for j in range(m):
            keys[j] = ((part[j] * nz + layer[j] - lz) * nx + cx[j] - lx) * ny + (
                cy[j] - ly
            )
            order[j] = j
        num_keys = 2 * nz * nx * ny
        bits = 0
        while (np.int64(1) << bits) < num_keys:
            bits += 1
        _radix_sort(keys, order, m, bits, scratch[1], scratch[2], scratch[3, :257])
        return order
    # Extremely spread-out shower: stable passes, least significant key first.
    order[:] = np.argsort(cy[:m], kind="mergesort")
    for column in (cx, layer, part):
        values = column[:m][order]
        order[:] = order[np.argsort(values, kind="mergesort")]
    # Dense cell numbers in sorted order stand in for the sorted keys.
    keys = scratch[0]
    keys[0] = 0
    for j in range(1, m):
        a, b = order[j - 1], order[j]
        same = (
            part[a] == part[b]
            and layer[a] == layer[b]
            and cx[a] == cx[b]
            and cy[a] == cy[b]
        )
        keys[j] = keys[j - 1] if same else keys[j - 1] + 1
    return order


@kernel(nogil=True, cache=True)
def _cluster_kernel(
    points: np.ndarray,
    shifts: np.ndarray,
    ecal_boundary: np.float32,
    ecal_cell: np.float32,
    hcal_cell: np.float32,
    out: np.ndarray,
) -> tuple[int, int]:
    """Cluster every shower of ``points`` into the zeroed ``out``.

    Returns ``(position, problem)`` of the first shower with a point that
    cannot be assigned to a cell, or ``(-1, 0)``.
    """
    n, p, f = points.shape
    has_time = f > 4
    source = np.empty(p, dtype=np.int64)
    part = np.empty(p, dtype=np.int64)
    layer = np.empty(p, dtype=np.int64)
    cx = np.empty(p, dtype=np.int64)
    cy = np.empty(p, dtype=np.int64)
    scratch = np.empty((4, max(p, 257)), dtype=np.int64)
    half = np.float32(0.5)
    for i in range(n):
        m = 0
        for j in range(p):
            e = points[i, j, E]
            if not (e > 0):  # padding (and, as in 0.7, negative energies)
                continue
            z = points[i, j, Z]
            if z < ecal_boundary:
                q, cell = 0, ecal_cell
            elif z >= ecal_boundary:
                q, cell = 1, hcal_cell
            else:  # NaN layer, dropped like 0.7 does
                continue
            # float32 throughout: (x + shift) / cell, then floor, as in 0.7.
            fx = np.floor((points[i, j, X] + shifts[i, q, 0]) / cell)
            fy = np.floor((points[i, j, Y] + shifts[i, q, 1]) / cell)
            if not (abs(fx) < _MAX_CELL_INDEX and abs(fy) < _MAX_CELL_INDEX):
                return i, _COORDINATE_PROBLEM
            source[m] = j
            part[m] = q
            layer[m] = np.int64(np.floor(z))
            cx[m] = np.int64(fx)
            cy[m] = np.int64(fy)
            m += 1
        if m == 0:
            continue
        order = _stable_order(m, part, layer, cx, cy, scratch)
        cell_of = scratch[0]
        k = 0
        start = 0
        while start < m:
            a = order[start]
            q = part[a]
            energy = np.float32(0.0)
            time = np.float32(np.inf)
            time_is_nan = False
            end = start
            while end < m and cell_of[end] == cell_of[start]:
                j = source[order[end]]
                energy += points[i, j, E]
                if has_time:
                    t = points[i, j, 4]
                    time = min(time, t)
                    # numpy's minimum, as used by 0.7, propagates NaN
                    time_is_nan |= np.isnan(t)
                end += 1
            cell = ecal_cell if q == 0 else hcal_cell
            out[i, k, X] = (np.float32(cx[a]) + half) * cell - shifts[i, q, 0]
            out[i, k, Y] = (np.float32(cy[a]) + half) * cell - shifts[i, q, 1]
            out[i, k, Z] = np.float32(layer[a])
            out[i, k, E] = energy
            if has_time:
                out[i, k, 4] = np.float32(np.nan) if time_is_nan else time
            k += 1
            start = end
    return -1, 0


def cluster_points(
    points: np.ndarray,
    shifts: np.ndarray,
    geometry: DetectorGeometry,
    shower_index: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Merge the hits of each shower into the cells of a shifted grid.

    Per shower, the real points (e > 0) are split into ECAL
    (``z < num_layers_ecal - 0.5``) and HCAL; each point goes to cell
    ``(floor(z), floor((x + sx) / c), floor((y + sy) / c))`` of its part, with
    the part's cell size ``c`` and grid shift ``(sx, sy)``.  Each occupied cell
    becomes one point at the cell centre ``((i + 0.5) * c - sx, ...)`` with
    the summed energy and, if present, the minimum time.  Output order: ECAL
    cells, then HCAL cells, each sorted by (layer, x cell, y cell); zero
    padding after.  With zero shifts this equals showerdata 0.7's
    ``cluster(random_shift=False)`` bit for bit (float32 arithmetic, energies
    summed in the original point order).

    Parameters
    ----------
    points : ndarray, shape (n, P, 4 or 5)
        Block of showers; converted to float32 if needed.
    shifts : array_like, shape (n, 2, 2)
        Per shower, the (x, y) grid shift [mm] of the ECAL (``[:, 0]``) and of
        the HCAL (``[:, 1]``), e.g. from :func:`grid_shifts`; zeros for the
        unshifted grid.  Converted to float32.
    geometry : DetectorGeometry
        Provides ``num_layers``, ``num_layers_ecal`` and the cell sizes.
    shower_index : array_like of int, shape (n,), optional
        Global indices of the showers, only used in error messages.  Default
        ``0 .. n-1``.
    out : ndarray, optional
        Zero-filled float32 block shaped like ``points`` to write the result
        into (see :func:`~showerdata.kernels.checks.output_block`).

    Returns
    -------
    ndarray, shape (n, P, F), float32
        The clustered block.

    Raises
    ------
    TypeError
        If ``geometry`` is not a :class:`DetectorGeometry`.
    ValueError
        If the geometry has no cells (cell size 0) for a calorimeter part,
        ``shifts`` has the wrong shape or non-finite values, or ``points`` has
        the wrong shape.
    ShowerDataError
        (a ``ValueError``) naming the shower index, if a real point lies
        outside the geometry's layers or so far out that its cell index is
        not representable.
    """
    if not isinstance(geometry, DetectorGeometry):
        raise TypeError(f"geometry must be a DetectorGeometry, got {geometry!r}")
    for part, num_layers, cell_size in (
        ("ECAL", geometry.num_layers_ecal, geometry.ecal_cell_size),
        ("HCAL", geometry.num_layers_hcal, geometry.hcal_cell_size),
    ):
        if num_layers > 0 and not cell_size > 0:
            raise ValueError(
                f"cannot cluster with geometry {geometry.name!r}: its {part} has "
                f"no readout cells (cell size {cell_size})"
            )
    points = as_points_block(points)
    n = points.shape[0]
    shifts = np.ascontiguousarray(shifts, dtype=np.float32)
    if shifts.shape != (n, 2, 2):
        raise ValueError(f"shifts must have shape ({n}, 2, 2), got {shifts.shape}")
    if not np.all(np.isfinite(shifts)):
        raise ValueError("shifts must be finite")
    index = shower_indices(shower_index, n)

    bad = first_shower_outside_layers(points, geometry.num_layers, False)
    if bad >= 0:
        raise_layer_error(bad, index, geometry.num_layers, f"geometry {geometry!r}")
    out = output_block(points, out)
    bad, _ = _cluster_kernel(
        points,
        shifts,
        np.float32(geometry.num_layers_ecal - 0.5),
        np.float32(geometry.ecal_cell_size),
        np.float32(geometry.hcal_cell_size),
        out,
    )
    if bad >= 0:
        raise ShowerDataError(
            "point too far from the origin (or not finite) to be assigned to a "
            f"readout cell of geometry {geometry!r}",
            index=int(index[bad]),
        )
    return out
