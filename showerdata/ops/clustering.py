"""``cluster``: hits into the cells of a regular (optionally shifted) grid."""

from __future__ import annotations

import numpy as np

from ..detector import DetectorGeometry, get_ILD_geometry
from ..kernels.clustering import cluster_points, grid_shifts
from ..showers import Showers
from .blocks import map_points

_ILD = get_ILD_geometry()


def _cluster_block(
    points: np.ndarray,
    shower_index: np.ndarray,
    *,
    geometry: DetectorGeometry,
    seed: int | None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    if seed is None:
        shifts = np.zeros((len(points), 2, 2), dtype=np.float32)
    else:
        shifts = grid_shifts(
            seed, shower_index, geometry.ecal_cell_size, geometry.hcal_cell_size
        )
    return cluster_points(points, shifts, geometry, shower_index, out)


def cluster(
    showers: Showers,
    random_shift: bool = True,
    detector_config: DetectorGeometry = _ILD,
    processes: int = 1,
    *,
    seed: int | None = None,
) -> Showers:
    """Cluster hits into readout cells of a regular grid.

    Energies in a cell are summed, the time is the earliest, the position is
    the cell centre; ECAL cells come first, then HCAL, each ordered by (layer,
    x cell, y cell).

    Parameters
    ----------
    showers : Showers
        Showers to cluster (lazy or in memory; the result has the same form).
    random_shift : bool
        Shift the grid of each shower by a random offset within one cell.
    detector_config : DetectorGeometry
        Cell sizes and the number of ECAL layers (default: ILD).
    processes : int
        Kept for compatibility with 0.7. Parallelism comes from dask: lazy
        showers are clustered chunk by chunk by the active scheduler.
    seed : int, optional
        Seed of the random shifts. The shift of a shower depends only on the
        seed and its index in ``showers``, so the result is the same however
        the work is chunked or scheduled. Default: drawn from numpy's global
        random state when the operation is built.

    Returns
    -------
    Showers
        The clustered showers; their ``attrs`` record
        ``clustered_for = detector_config.name``, which
        :func:`~showerdata.observables.add_observables_to_file` reads from a
        saved file to pick the geometry.

    Examples
    --------
    >>> import showerdata
    >>> showers = showerdata.load("production.h5")
    >>> clustered = showerdata.cluster(showers, seed=7)  # lazy: nothing runs yet
    >>> clustered.attrs
    {'clustered_for': 'ILD'}
    >>> before, after = showers[:100].num_points, clustered[:100].num_points
    >>> bool((after <= before).all().compute())  # hits merge into fewer cells
    True
    """
    if isinstance(processes, bool) or not isinstance(processes, (int, np.integer)):
        raise TypeError(f"processes must be an integer, got {processes!r}.")
    if random_shift and seed is None:
        # numpy's global state, so np.random.seed(...) still makes 0.7-style
        # scripts reproducible.
        seed = int(np.random.randint(0, 2**63 - 1, dtype=np.int64))  # noqa: NPY002
    return map_points(
        showers,
        _cluster_block,
        geometry=detector_config,
        seed=seed if random_shift else None,
        step={"clustered_for": detector_config.name},
    )
