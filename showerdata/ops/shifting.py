"""``shift``: undo (or redo) the layer-wise displacement of inclined showers."""

from __future__ import annotations

import numpy as np

from ..detector import DetectorGeometry, get_ILD_geometry
from ..kernels.shifting import shift_points
from ..showers import Showers
from .blocks import map_points

_ILD = get_ILD_geometry()


def _shift_block(
    points: np.ndarray,
    shower_index: np.ndarray,
    directions: np.ndarray,
    *,
    geometry: DetectorGeometry,
    inverse: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    return shift_points(
        points,
        directions,
        geometry.layer_bottom_pos,
        geometry.calo_surface,
        inverse=inverse,
        shower_index=shower_index,
        out=out,
    )


def shift(
    showers: Showers,
    inverse: bool = False,
    detector_config: DetectorGeometry = _ILD,
) -> Showers:
    """Shift each layer along the incident direction.

    Forward, the displacement ``direction_xy / direction_z * depth`` of every
    layer is removed, so inclined showers look like perpendicular ones; points
    that end up outside the octant box are dropped. ``inverse=True`` adds the
    displacement back.

    Parameters
    ----------
    showers : Showers
        Showers to shift (lazy or in memory; the result has the same form).
    inverse : bool
        Re-apply the displacement instead of removing it.
    detector_config : DetectorGeometry
        Layer positions and calorimeter surface (default: ILD).

    Returns
    -------
    Showers
        The shifted showers. Forward, ``attrs["shifted"]`` names the geometry
        whose displacement was removed; ``inverse=True`` removes that key.

    Raises
    ------
    ShowerDataError
        A direction with z = 0 (named by shower index), when computed.

    Examples
    --------
    A point 100 mm deep in the calorimeter (layer 10 of ILD) of a shower
    coming in at 45 degrees in x is moved back by its displacement:

    >>> import numpy as np, showerdata
    >>> from showerdata.detector import get_ILD_geometry
    >>> ild = get_ILD_geometry()
    >>> depth = ild.layer_bottom_pos[10] - ild.calo_surface
    >>> points = np.array([[[depth + 5.0, 0.0, 10.0, 0.1]]])
    >>> direction = np.array([[np.sqrt(0.5), 0.0, np.sqrt(0.5)]])
    >>> showers = showerdata.Showers(points, [50.0], 22, directions=direction)
    >>> shifted = showerdata.shift(showers)
    >>> print(f"{shifted.points[0, 0, 0]:.2f}")
    5.00
    >>> shifted.attrs
    {'shifted': 'ILD'}
    """
    return map_points(
        showers,
        _shift_block,
        showers.directions,
        geometry=detector_config,
        inverse=bool(inverse),
        step={"shifted": None if inverse else detector_config.name},
    )
