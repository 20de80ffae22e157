"""Per-shower summary observables: layer profiles, radial profile, centroid.

All observables only count points that pass the readout thresholds of the
geometry, exactly as showerdata 0.7 does: a point counts if its energy is
*strictly* above ``threshold / 1000`` (geometry thresholds are in MeV, point
energies in GeV) of its calorimeter part (ECAL: ``z < num_layers_ecal - 0.5``).
Without a geometry a point counts if ``e > 0``.  Comparisons and sums are in
float32 and in 0.7's summation order, so results match 0.7 bit for bit.

The block functions take one block of showers ``(n, P, 4|5)`` and return one
row per shower, so they can be mapped over dask chunks in any split.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..detector import DetectorGeometry
from .checks import (
    LAYER_EPS,
    E,
    X,
    Y,
    Z,
    as_points_block,
    first_shower_outside_layers,
    integer,
    raise_layer_error,
    shower_indices,
)
from .jit import kernel

__all__ = [
    "DEFAULT_RADIAL_BIN_EDGES",
    "Observables",
    "center_of_energy",
    "energy_per_layer",
    "energy_per_radial_bin",
    "num_points_per_layer",
    "observables",
]

#: 0.7's default radial binning: 200 bins of 2 mm from 0 to 400 mm (float32).
DEFAULT_RADIAL_BIN_EDGES = np.linspace(0, 400, 201, dtype=np.float32)
DEFAULT_RADIAL_BIN_EDGES.flags.writeable = False

# numpy's pairwise summation switches from 8 interleaved accumulators to a
# recursive split above this many elements.
_PAIRWISE_BLOCK = 128


class Observables(NamedTuple):
    """All observables of a block of showers, as computed by :func:`observables`."""

    num_points_per_layer: np.ndarray  #: (n, num_layers) int32
    energy_per_layer: np.ndarray  #: (n, num_layers) float32
    energy_per_radial_bin: np.ndarray  #: (n, num_bins) float32
    center_of_energy: np.ndarray  #: (n, 3) float32


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------


@kernel(nogil=True, cache=True)
def _pairwise_block(values: np.ndarray, start: int, count: int) -> np.float32:
    """Leaf of numpy's pairwise sum: up to 128 values, 8 interleaved partials."""
    if count < 8:
        total = np.float32(0.0)
        for j in range(start, start + count):
            total += values[j]
        return total
    acc = np.empty(8, dtype=np.float32)
    for r in range(8):
        acc[r] = values[start + r]
    j = 8
    last = count - count % 8
    while j < last:
        for r in range(8):
            acc[r] += values[start + j + r]
        j += 8
    total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + (
        (acc[4] + acc[5]) + (acc[6] + acc[7])
    )
    while j < count:
        total += values[start + j]
        j += 1
    return total


@kernel(nogil=True, cache=True)
def _pairwise_sum(values: np.ndarray, count: int) -> np.float32:
    """float32 sum of ``values[:count]`` in numpy's pairwise order.

    0.7 takes the total energy with ``np.sum(..., axis=1)``, which reduces a
    contiguous row with numpy's pairwise algorithm: rows of more than 128
    values are split in two halves (the first a multiple of 8 long) and the
    halves' sums added.  Following the same tree makes the centre of energy
    reproducible bit for bit.  The recursion is unrolled onto an explicit
    stack because numba's on-disk cache cannot reload recursive functions.
    """
    # Each split halves the segment, so 64 levels cover any int64 count.
    seg_start = np.empty(64, dtype=np.int64)
    seg_count = np.empty(64, dtype=np.int64)
    seg_stage = np.empty(64, dtype=np.int64)  # 0: go left, 1: go right, 2: add
    sums = np.empty(64, dtype=np.float32)
    top, num_sums = 0, 0
    seg_start[0], seg_count[0], seg_stage[0] = 0, count, 0
    while top >= 0:
        start, size = seg_start[top], seg_count[top]
        if size <= _PAIRWISE_BLOCK:
            sums[num_sums] = _pairwise_block(values, start, size)
            num_sums += 1
            top -= 1
            continue
        left = size // 2
        left -= left % 8
        stage = seg_stage[top]
        seg_stage[top] = stage + 1
        if stage == 0:
            top += 1
            seg_start[top], seg_count[top], seg_stage[top] = start, left, 0
        elif stage == 1:
            top += 1
            seg_start[top], seg_count[top], seg_stage[top] = (
                start + left,
                size - left,
                0,
            )
        else:
            num_sums -= 1
            sums[num_sums - 1] = sums[num_sums - 1] + sums[num_sums]
            top -= 1
    return sums[0]


@kernel(nogil=True, cache=True)
def _bin_index(edges: np.ndarray, inverse_width: float, r: np.float32) -> int:
    """Bin ``i`` with ``edges[i] <= r < edges[i + 1]``, or -1 outside (or NaN).

    Same as ``np.digitize(r, edges) - 1`` for increasing edges, except that
    values below the first edge give -1 instead of wrapping around to the
    last bin.  The search starts at the bin that uniform edges would give
    (``inverse_width`` = bins per mm) and walks from there, so uniform edges
    need no search and any other increasing edges still get the exact bin.
    """
    last = edges.shape[0] - 1
    if not (r >= edges[0] and r < edges[last]):
        return -1
    guess = np.int64((np.float64(r) - np.float64(edges[0])) * inverse_width)
    b = min(max(guess, 0), last - 1)
    while edges[b] > r:
        b -= 1
    while edges[b + 1] <= r:
        b += 1
    return b


@kernel(nogil=True, cache=True)
def _observables_kernel(
    points: np.ndarray,
    use_geometry: bool,
    ecal_boundary: np.float32,
    ecal_threshold: np.float32,
    hcal_threshold: np.float32,
    edges: np.ndarray,
    inverse_width: float,
    want_layers: bool,
    want_radial: bool,
    want_center: bool,
    counts: np.ndarray,
    layer_energy: np.ndarray,
    radial_energy: np.ndarray,
    center: np.ndarray,
) -> None:
    """Fill the requested (zero-initialised) outputs in one pass per shower.

    Accumulation follows 0.7: layer and radial sums and the energy-weighted
    positions add up points in their original order (np.add.at and a strided
    np.sum do exactly that), the total energy uses numpy's pairwise order.
    """
    n, p = points.shape[0], points.shape[1]
    masked = np.zeros(p, dtype=np.float32)
    for i in range(n):
        wx = np.float32(0.0)
        wy = np.float32(0.0)
        wz = np.float32(0.0)
        for j in range(p):
            e = points[i, j, E]
            z = points[i, j, Z]
            if use_geometry:
                passes = (z < ecal_boundary and e > ecal_threshold) or (
                    z >= ecal_boundary and e > hcal_threshold
                )
            else:
                passes = e > 0
            if not passes:
                masked[j] = 0.0
                continue
            masked[j] = e
            x = points[i, j, X]
            y = points[i, j, Y]
            if want_layers:
                layer = np.int64(z + LAYER_EPS)  # truncation, like astype(int32)
                counts[i, layer] += 1
                layer_energy[i, layer] += e
            if want_radial:
                # Square root in float64 of the float32 sum, rounded once: the
                # correctly rounded float32 sqrt, i.e. what numpy computes.
                r = np.float32(np.sqrt(np.float64(x * x + y * y)))
                b = _bin_index(edges, inverse_width, r)
                if b >= 0:
                    radial_energy[i, b] += e
            if want_center:
                wx += x * e
                wy += y * e
                wz += z * e
        if want_center:
            # Points failing the thresholds are zeros in this sum, as in 0.7.
            total = _pairwise_sum(masked, p) + np.float32(1e-8)
            center[i, 0] = wx / total
            center[i, 1] = wy / total
            center[i, 2] = wz / total


# ---------------------------------------------------------------------------
# Block functions
# ---------------------------------------------------------------------------


def _threshold_parameters(
    geometry: DetectorGeometry | None,
) -> tuple[bool, np.float32, np.float32, np.float32]:
    if geometry is None:
        return False, np.float32(0.0), np.float32(0.0), np.float32(0.0)
    if not isinstance(geometry, DetectorGeometry):
        raise TypeError(
            f"geometry must be a DetectorGeometry or None, got {geometry!r}"
        )
    # MeV -> GeV in float64, then rounded to float32 for the comparison: the
    # same two roundings 0.7 applies.
    return (
        True,
        np.float32(geometry.num_layers_ecal - 0.5),
        np.float32(geometry.ecal_threshold / 1e3),
        np.float32(geometry.hcal_threshold / 1e3),
    )


def checked_bin_edges(bin_edges: object) -> np.ndarray:
    # Always a fresh writable array: numba compiles read-only arrays (like the
    # default edges) as a separate type, which would double the compile time.
    if bin_edges is None:
        bin_edges = DEFAULT_RADIAL_BIN_EDGES
    edges = np.array(bin_edges, dtype=np.float32, order="C")
    if edges.ndim != 1 or edges.shape[0] < 2:
        raise ValueError(
            "bin_edges must be a 1-D array of at least 2 edges, got shape "
            f"{edges.shape}"
        )
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) < 0):
        raise ValueError("bin_edges must be finite and increasing")
    return edges


def _inverse_bin_width(edges: np.ndarray) -> float:
    """Bins per unit radius if the edges were uniform (0 for a zero range)."""
    span = float(edges[-1]) - float(edges[0])
    return (edges.shape[0] - 1) / span if span > 0 else 0.0


def _compute(
    points: object,
    geometry: DetectorGeometry | None,
    num_layers: int | None,
    bin_edges: object,
    shower_index: object,
    want_layers: bool,
    want_radial: bool,
    want_center: bool,
) -> Observables:
    use_geometry, boundary, ecal_thr, hcal_thr = _threshold_parameters(geometry)
    if want_layers:
        if num_layers is None:
            if geometry is None:
                raise ValueError("num_layers must be given when geometry is None")
            num_layers = geometry.num_layers
        num_layers = integer("num_layers", num_layers)
    else:
        num_layers = 0
    edges = checked_bin_edges(bin_edges if want_radial else None)
    points = as_points_block(points)
    n = points.shape[0]
    index = shower_indices(shower_index, n)

    # Layer-wise sums need a valid layer for every point that may count; a
    # geometry promises valid layers for all real points.
    if want_layers or use_geometry:
        limit = num_layers if want_layers else geometry.num_layers
        # Negative thresholds let padding (e == 0) through, so check it too.
        check_all = use_geometry and min(ecal_thr, hcal_thr) < 0
        bad = first_shower_outside_layers(points, limit, check_all)
        if bad >= 0:
            what = f"geometry {geometry!r}" if geometry is not None else "the data"
            raise_layer_error(bad, index, limit, what)

    counts = np.zeros((n, num_layers), dtype=np.int32)
    layer_energy = np.zeros((n, num_layers), dtype=np.float32)
    num_bins = edges.shape[0] - 1 if want_radial else 0
    radial_energy = np.zeros((n, num_bins), dtype=np.float32)
    center = np.zeros((n, 3 if want_center else 0), dtype=np.float32)
    _observables_kernel(
        points,
        use_geometry,
        boundary,
        ecal_thr,
        hcal_thr,
        edges,
        _inverse_bin_width(edges),
        want_layers,
        want_radial,
        want_center,
        counts,
        layer_energy,
        radial_energy,
        center,
    )
    return Observables(counts, layer_energy, radial_energy, center)


def num_points_per_layer(
    points: np.ndarray,
    geometry: DetectorGeometry | None = None,
    num_layers: int | None = None,
    shower_index: np.ndarray | None = None,
) -> np.ndarray:
    """Number of points above threshold in each layer of each shower.

    A point's layer is ``int(z + 0.1)``.

    Parameters
    ----------
    points : ndarray, shape (n, P, 4 or 5)
        Block of showers; converted to float32 if needed.
    geometry : DetectorGeometry or None, optional
        Geometry whose thresholds (MeV) and ECAL/HCAL split select the points
        that count.  ``None`` (default): every point with e > 0 counts.
    num_layers : int, optional
        Number of layer columns; default ``geometry.num_layers``.  Required
        without a geometry (unlike 0.7 it is never inferred from the data, which
        would make the shape depend on the block).
    shower_index : array_like of int, shape (n,), optional
        Global shower indices for error messages; default ``0 .. n-1``.

    Returns
    -------
    ndarray, shape (n, num_layers), int32

    Raises
    ------
    ValueError
        If ``num_layers`` is missing or negative.
    ShowerDataError
        (a ``ValueError``) naming the shower, if a real point's layer is not in
        ``0 .. num_layers - 1``.
    """
    return _compute(
        points, geometry, num_layers, None, shower_index, True, False, False
    ).num_points_per_layer


def energy_per_layer(
    points: np.ndarray,
    geometry: DetectorGeometry | None = None,
    num_layers: int | None = None,
    shower_index: np.ndarray | None = None,
) -> np.ndarray:
    """Summed energy [GeV] of the points above threshold in each layer.

    Parameters
    ----------
    points : ndarray, shape (n, P, 4 or 5)
        Block of showers; converted to float32 if needed.
    geometry : DetectorGeometry or None, optional
        Geometry whose thresholds (MeV) and ECAL/HCAL split select the points
        that count.  ``None`` (default): every point with e > 0 counts.
    num_layers : int, optional
        Number of layer columns; default ``geometry.num_layers``, required
        without a geometry.
    shower_index : array_like of int, shape (n,), optional
        Global shower indices for error messages; default ``0 .. n-1``.

    Returns
    -------
    ndarray, shape (n, num_layers), float32

    Raises
    ------
    ValueError
        If ``num_layers`` is missing or negative.
    ShowerDataError
        (a ``ValueError``) naming the shower, if a real point's layer is not in
        ``0 .. num_layers - 1``.
    """
    return _compute(
        points, geometry, num_layers, None, shower_index, True, False, False
    ).energy_per_layer


def energy_per_radial_bin(
    points: np.ndarray,
    geometry: DetectorGeometry | None = None,
    bin_edges: np.ndarray | None = None,
    shower_index: np.ndarray | None = None,
) -> np.ndarray:
    """Summed energy [GeV] of the points above threshold per bin of radius.

    The radius is ``sqrt(x**2 + y**2)`` (float32); bin ``i`` holds
    ``edges[i] <= r < edges[i + 1]``.  Points outside the edges are ignored.

    Parameters
    ----------
    points : ndarray, shape (n, P, 4 or 5)
        Block of showers; converted to float32 if needed.
    geometry : DetectorGeometry or None, optional
        Geometry whose thresholds (MeV) and ECAL/HCAL split select the points
        that count.  ``None`` (default): every point with e > 0 counts.
    bin_edges : array_like, optional
        Increasing, finite bin edges [mm]; default
        :data:`DEFAULT_RADIAL_BIN_EDGES` (200 bins, 0 to 400 mm).
    shower_index : array_like of int, shape (n,), optional
        Global shower indices for error messages; default ``0 .. n-1``.

    Returns
    -------
    ndarray, shape (n, len(bin_edges) - 1), float32

    Raises
    ------
    ValueError
        If ``bin_edges`` is not an increasing 1-D array of finite edges.
    ShowerDataError
        (a ``ValueError``) naming the shower, if a geometry is given and a real
        point's layer is outside it.
    """
    return _compute(
        points, geometry, None, bin_edges, shower_index, False, True, False
    ).energy_per_radial_bin


def center_of_energy(
    points: np.ndarray,
    geometry: DetectorGeometry | None = None,
    shower_index: np.ndarray | None = None,
) -> np.ndarray:
    """Energy-weighted mean (x, y, z) of the points above threshold.

    As in 0.7 the weighted sums are divided by ``total energy + 1e-8``, so a
    shower without counting points has centre (0, 0, 0).

    Parameters
    ----------
    points : ndarray, shape (n, P, 4 or 5)
        Block of showers; converted to float32 if needed.
    geometry : DetectorGeometry or None, optional
        Geometry whose thresholds (MeV) and ECAL/HCAL split select the points
        that count.  ``None`` (default): every point with e > 0 counts.
    shower_index : array_like of int, shape (n,), optional
        Global shower indices for error messages; default ``0 .. n-1``.

    Returns
    -------
    ndarray, shape (n, 3), float32

    Raises
    ------
    ShowerDataError
        (a ``ValueError``) naming the shower, if a geometry is given and a real
        point's layer is outside it.
    """
    return _compute(
        points, geometry, None, None, shower_index, False, False, True
    ).center_of_energy


def observables(
    points: np.ndarray,
    geometry: DetectorGeometry | None = None,
    num_layers: int | None = None,
    bin_edges: np.ndarray | None = None,
    shower_index: np.ndarray | None = None,
) -> Observables:
    """All four observables in a single pass over the block.

    Parameters
    ----------
    points : ndarray, shape (n, P, 4 or 5)
        Block of showers; converted to float32 if needed.
    geometry : DetectorGeometry or None, optional
        Geometry whose thresholds (MeV) and ECAL/HCAL split select the points
        that count.  ``None`` (default): every point with e > 0 counts.
    num_layers : int, optional
        Number of layer columns; default ``geometry.num_layers``, required
        without a geometry.
    bin_edges : array_like, optional
        Radial bin edges [mm]; default :data:`DEFAULT_RADIAL_BIN_EDGES`.
    shower_index : array_like of int, shape (n,), optional
        Global shower indices for error messages; default ``0 .. n-1``.

    Returns
    -------
    Observables
        Named tuple of the results of :func:`num_points_per_layer`,
        :func:`energy_per_layer`, :func:`energy_per_radial_bin` and
        :func:`center_of_energy`.
    """
    return _compute(
        points, geometry, num_layers, bin_edges, shower_index, True, True, True
    )
