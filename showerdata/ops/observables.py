"""Observables of showers: layer profiles, radial profile, centre of energy.

Each ``calc_*`` function keeps the form of its input: lazy showers give dask
arrays (nothing is read until computed), in-memory showers numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..detector import DetectorGeometry
from ..errors import ShowerDataError
from ..kernels import observables as kernels
from ..showers import Showers
from .blocks import map_values

#: The observables written to the ``observables`` group of a file.
OBSERVABLE_NAMES = (
    "num_points_per_layer",
    "energy_per_layer",
    "energy_per_radial_bin",
    "center_of_energy",
)


def check_geometry(
    clustered_for: str, detector_config: DetectorGeometry, path: str | None = None
) -> None:
    """Raise unless ``detector_config`` is the geometry named by ``clustered_for``.

    An empty ``clustered_for`` (not recorded) agrees with any geometry.
    """
    if clustered_for and clustered_for != detector_config.name:
        raise ShowerDataError(
            f"the showers are clustered for the {clustered_for!r} geometry "
            f"(attribute 'clustered_for') but the observables were asked for with "
            f"detector_config {detector_config!r} ({detector_config.name!r}): its "
            "thresholds and layers would not match the cells. Pass the "
            f"{clustered_for!r} geometry (showerdata.detector makes the built-in "
            "ones) or, for a file, leave detector_config out to use it",
            path=path,
        )


def _check_against_attrs(
    showers: Showers, detector_config: DetectorGeometry | None
) -> None:
    """Raise if ``detector_config`` contradicts the showers' ``clustered_for``."""
    if detector_config is not None:
        where = showers.sources
        path = where[0].path if where and len(where) == 1 else None
        check_geometry(
            str(showers.attrs.get("clustered_for", "")), detector_config, path
        )


def _layers(
    showers: Showers, num_layers: int, detector_config: DetectorGeometry | None
) -> int:
    if num_layers >= 0:
        return num_layers
    if detector_config is not None:
        return detector_config.num_layers
    if showers.is_lazy:
        raise ValueError(
            "num_layers (or detector_config) is required for lazy showers: the "
            "number of layers would otherwise depend on the data."
        )
    # As 0.7 infers it: over every point, padding (layer 0) included, so
    # showers without points have one layer.
    layers = (showers.points[..., 2] + 0.1).astype(np.int32)
    return int(layers.max()) + 1 if layers.size else 0


def _per_layer(points, shower_index, *, function, **options):
    return function(points, shower_index=shower_index, **options)


def _layer_profile(
    showers: Showers,
    num_layers: int,
    detector_config: DetectorGeometry | None,
    function: Any,
    dtype: type,
) -> Any:
    _check_against_attrs(showers, detector_config)
    layers = _layers(showers, num_layers, detector_config)
    return map_values(
        showers,
        _per_layer,
        layers,
        dtype,
        function=function,
        geometry=detector_config,
        num_layers=layers,
    )


def calc_num_points_per_layer(
    showers: Showers,
    num_layers: int = -1,
    detector_config: DetectorGeometry | None = None,
) -> Any:
    """Number of points above threshold per layer, shape (N, num_layers), int32.

    Parameters
    ----------
    showers : Showers
        Lazy or in-memory showers.
    num_layers : int
        Number of layers; -1 takes it from ``detector_config``, or (in memory
        only) from the data as showerdata 0.7 did.
    detector_config : DetectorGeometry, optional
        Thresholds (MeV) for ECAL and HCAL points; default: every point counts.
    """
    return _layer_profile(
        showers, num_layers, detector_config, kernels.num_points_per_layer, np.int32
    )


def calc_energy_per_layer(
    showers: Showers,
    num_layers: int = -1,
    detector_config: DetectorGeometry | None = None,
) -> Any:
    """Energy [GeV] above threshold per layer, shape (N, num_layers), float32.

    Parameters are those of :func:`calc_num_points_per_layer`.

    Examples
    --------
    One shower with 0.2 and 0.3 GeV in layer 0 and 0.1 GeV in layer 2:

    >>> import numpy as np, showerdata
    >>> from showerdata.observables import calc_energy_per_layer
    >>> points = np.array(
    ...     [[[0, 0, 0, 0.2], [5, 5, 0, 0.3], [0, 0, 2, 0.1]]], dtype=np.float32
    ... )
    >>> showers = showerdata.Showers(points, energies=[10.0], pdg=22)
    >>> calc_energy_per_layer(showers, num_layers=4)
    array([[0.5, 0. , 0.1, 0. ]], dtype=float32)

    Lazy showers give a dask array; the geometry gives the layers:

    >>> from showerdata.detector import get_ILD_unclustered_geometry
    >>> lazy = showerdata.load("production.h5")
    >>> geometry = get_ILD_unclustered_geometry()
    >>> profile = calc_energy_per_layer(lazy, detector_config=geometry)
    >>> profile.shape, type(profile).__name__
    ((1000, 78), 'Array')
    >>> mean_profile = profile.mean(axis=0).compute()  # runs chunk by chunk
    """
    return _layer_profile(
        showers, num_layers, detector_config, kernels.energy_per_layer, np.float32
    )


def calc_energy_per_radial_bin(
    showers: Showers,
    bin_edges: ArrayLike | None = None,
    detector_config: DetectorGeometry | None = None,
) -> Any:
    """Energy per radial bin, shape (N, bins), float32; default 200 bins 0–400 mm.

    Parameters
    ----------
    showers : Showers
        Lazy or in-memory showers.
    bin_edges : array_like, optional
        Increasing radial bin edges [mm].
    detector_config : DetectorGeometry, optional
        Thresholds (MeV) for ECAL and HCAL points.
    """
    _check_against_attrs(showers, detector_config)
    edges = kernels.checked_bin_edges(bin_edges)
    return map_values(
        showers,
        _per_layer,
        len(edges) - 1,
        np.float32,
        function=kernels.energy_per_radial_bin,
        geometry=detector_config,
        bin_edges=edges,
    )


def calc_center_of_energy(
    showers: Showers, detector_config: DetectorGeometry | None = None
) -> Any:
    """Energy-weighted mean (x, y, z) of each shower, shape (N, 3), float32."""
    _check_against_attrs(showers, detector_config)
    return map_values(
        showers,
        _per_layer,
        3,
        np.float32,
        function=kernels.center_of_energy,
        geometry=detector_config,
    )


def _all_block(points, shower_index, *, geometry, num_layers):
    # One pass for all four; packed as float32 columns (layer counts are
    # small integers, exact in float32) so dask shares one task per chunk.
    result = kernels.observables(
        points, geometry, num_layers, shower_index=shower_index
    )
    return np.concatenate(
        [np.asarray(part, dtype=np.float32) for part in result], axis=1
    )


def calc_observables(
    showers: Showers, detector_config: DetectorGeometry, num_layers: int = -1
) -> dict[str, Any]:
    """All four observables in one pass, as a dict of arrays (lazy or numpy).

    The geometry gives the layers and the thresholds; it must be the one the
    showers are clustered for, if their ``attrs`` say so.

    Examples
    --------
    >>> import showerdata
    >>> from showerdata.detector import get_ILD_geometry
    >>> from showerdata.observables import calc_observables
    >>> showers = showerdata.load("production.h5")[:50]
    >>> values = calc_observables(showerdata.cluster(showers), get_ILD_geometry())
    >>> {name: array.shape for name, array in values.items()}
    {'num_points_per_layer': (50, 78), 'energy_per_layer': (50, 78),
     'energy_per_radial_bin': (50, 200), 'center_of_energy': (50, 3)}
    """
    _check_against_attrs(showers, detector_config)
    layers = _layers(showers, num_layers, detector_config)
    bins = len(kernels.DEFAULT_RADIAL_BIN_EDGES) - 1
    bounds = np.cumsum([0, layers, layers, bins, 3])
    packed = map_values(
        showers,
        _all_block,
        int(bounds[-1]),
        np.float32,
        geometry=detector_config,
        num_layers=layers,
    )
    values = {
        name: packed[:, bounds[i] : bounds[i + 1]]
        for i, name in enumerate(OBSERVABLE_NAMES)
    }
    values["num_points_per_layer"] = values["num_points_per_layer"].astype(np.int32)
    return values
