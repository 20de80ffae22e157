"""``filter_showers``: keep the points inside a cylinder and above thresholds."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.filtering import checked_cuts, filter_points
from ..showers import Showers
from .blocks import map_points


def _filter_block(
    points: np.ndarray,
    shower_index: np.ndarray,
    *,
    out: np.ndarray | None = None,
    **cuts: float,
) -> np.ndarray:
    return filter_points(points, out=out, **cuts)


def filter_showers(
    shower_data: Showers,
    radius: float = float("inf"),
    ecal_threshold: float = 0.0,
    hcal_threshold: float = 0.0,
    num_layers_ecal: int = 30,
) -> Showers:
    """Keep the points inside a cylinder and above the ECAL/HCAL thresholds.

    Kept points move to the front of each shower in their original order and
    ``num_points`` is updated. Lazy input gives a lazy result (nothing is read
    now); in-memory input gives an in-memory result.

    Parameters
    ----------
    shower_data : Showers
        Showers to filter.
    radius : float
        Radius [mm] of the cylinder around the z axis (points need x²+y² < r²).
    ecal_threshold, hcal_threshold : float
        Minimum point energy [GeV] in the ECAL / HCAL.
    num_layers_ecal : int
        Number of ECAL layers (points with z < num_layers_ecal - 0.5).

    Returns
    -------
    Showers
        The filtered showers; ``attrs["filtered_with"]`` records the cuts
        (after those of earlier filters, separated by ``"; "``).

    Examples
    --------
    >>> import numpy as np, showerdata
    >>> points = np.array([[[0, 0, 0, 0.5], [300, 0, 0, 0.5], [0, 0, 40, 1e-5]]])
    >>> showers = showerdata.Showers(points, energies=[10.0], pdg=22)
    >>> kept = showerdata.filter_showers(showers, radius=100, hcal_threshold=1e-4)
    >>> kept.num_points
    array([1], dtype=int32)
    >>> kept.attrs["filtered_with"]
    'radius=100, ecal_threshold=0.0, hcal_threshold=0.0001, num_layers_ecal=30'
    """
    cuts = dict(
        radius=radius,
        ecal_threshold=ecal_threshold,
        hcal_threshold=hcal_threshold,
        num_layers_ecal=num_layers_ecal,
    )
    checked_cuts(**cuts)  # now, not when the graph runs
    return map_points(
        shower_data,
        _filter_block,
        step={"filtered_with": _filters_text(shower_data.attrs, cuts)},
        **cuts,
    )


def _filters_text(attrs: dict[str, Any], cuts: dict[str, float]) -> str:
    this = ", ".join(f"{name}={value}" for name, value in cuts.items())
    earlier = attrs.get("filtered_with")
    return f"{earlier}; {this}" if earlier else this
